"""The emulator's index of waiting tasks and its CreateTask fast path answer as before.

* ``Store.due_tasks`` over the per-queue heaps picks the same tasks as the former full scan
  (kept here as ``scan_due``) under random sequences of creates, attempts, retries, deletes,
  RunTask, pause/resume and purge;
* end to end (real client, the product's adapter, an HTTP target): a paused queue with many
  tasks, once resumed, dispatches them all in schedule order and never more at once than
  ``max_concurrent_dispatches``; future tasks dispatch when due and not before; deleted,
  purged and already-run tasks of a paused queue are not dispatched on resume;
* CreateTask, decoded and answered with the generated messages, answers byte for byte what
  the proto-plus path (``build_record`` + ``TaskRecord.to_proto``) answers (up to the wire
  order of header map entries, which varied between processes before too).
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.protobuf import duration_pb2, timestamp_pb2
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from local.cloudtasks_emulator import EmulatorHandle, start_emulator
from local.cloudtasks_emulator.model import TaskRecord
from local.cloudtasks_emulator.queues import max_concurrent
from local.cloudtasks_emulator.store import Store
from local.cloudtasks_emulator.task_input import build_record, build_record_pb
from shared.adapters.tasks import HttpTask, TaskQueue
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

PROJECT = "demo-mp-local"
LOCATION = "us-central1"
PARENT = f"projects/{PROJECT}/locations/{LOCATION}"
SA = "tasks-invoker@demo-mp-local.iam.gserviceaccount.com"


# The former due_tasks: a scan over every task -------------------------------------------------

def scan_due(store: Store, now: float) -> tuple[list[TaskRecord], float | None]:
    due: list[TaskRecord] = []
    wake: float | None = None
    by_queue: dict[str, list[TaskRecord]] = collections.defaultdict(list)
    for record in store.tasks.values():
        if record.in_flight == 0:
            by_queue[record.queue_name].append(record)
    for queue_name, records in by_queue.items():
        queue = store.queues.get(queue_name)
        if queue is None or queue.state != tasks_v2.Queue.State.RUNNING:
            continue
        room = max_concurrent(queue) - store.inflight[queue_name]
        for record in sorted(records, key=lambda r: r.schedule_time):
            if record.schedule_time <= now and room > 0:
                due.append(record)
                room -= 1
            elif record.schedule_time > now:
                wake = record.schedule_time if wake is None else min(wake, record.schedule_time)
                break
    return due, wake


QUEUE_IDS = ("a", "b")
OPS = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(QUEUE_IDS), st.floats(-5, 5)),
    st.tuples(st.just("tick"), st.floats(-5, 5)),
    st.tuples(st.just("complete"), st.integers(0, 50), st.sampled_from([200, 500, 503])),
    st.tuples(st.just("delete"), st.integers(0, 50)),
    st.tuples(st.just("run"), st.integers(0, 50)),
    st.tuples(st.just("pause"), st.sampled_from(QUEUE_IDS)),
    st.tuples(st.just("resume"), st.sampled_from(QUEUE_IDS)),
    st.tuples(st.just("purge"), st.sampled_from(QUEUE_IDS)),
)


def _store() -> Store:
    store = Store(reservation_seconds=3600.0, time_scale=0.001)
    for queue_id, slots in zip(QUEUE_IDS, (2, 3), strict=True):
        store.create_queue(PARENT, tasks_v2.Queue(
            name=f"{PARENT}/queues/{queue_id}",
            rate_limits=tasks_v2.RateLimits(max_concurrent_dispatches=slots)))
    return store


@settings(max_examples=150, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=20, max_size=80))
@example([("add", "a", 0.0), ("tick", 1.0), ("complete", 0, 500), ("tick", 2.0)])  # a retry
@example([("add", "b", 0.0), ("tick", 1.0), ("run", 0), ("complete", 0, 500),  # RunTask while
          ("complete", 0, 503), ("tick", 2.0)])  # in flight: waits again once both answered
def test_due_tasks_picks_what_the_full_scan_picked(ops: list[tuple[Any, ...]]) -> None:
    store = _store()
    base = time.time()
    ids = itertools.count()
    in_flight: list[tuple[TaskRecord, Any]] = []

    def pick(index: int) -> TaskRecord | None:
        live = sorted(store.tasks)
        return store.tasks[live[index % len(live)]] if live else None

    for op in ops:
        kind = op[0]
        if kind == "add":
            n = next(ids)
            store.add_task(TaskRecord(
                name=f"{PARENT}/queues/{op[1]}/tasks/t{n}", queue_name=f"{PARENT}/queues/{op[1]}",
                http_request=tasks_v2.HttpRequest(url="http://127.0.0.1:9/x"),
                schedule_time=base + op[2] + n * 1e-6, create_time=base, dispatch_deadline=60.0))
        elif kind == "tick":
            now = base + op[1]
            expected, expected_wake = scan_due(store, now)
            room_left = {
                name: max_concurrent(q) - store.inflight[name]
                - sum(1 for r in expected if r.queue_name == name)
                for name, q in store.queues.items()}
            due, wake = store.due_tasks(now)
            assert sorted(r.name for r in due) == sorted(r.name for r in expected)
            if all(room > 0 for room in room_left.values()):
                assert wake == expected_wake  # (with a queue full, the next wake is moot)
            in_flight.extend((record, store.begin_attempt(record)) for record in due)
        elif kind == "complete" and in_flight:
            record, attempt = in_flight.pop(op[1] % len(in_flight))
            store.complete_attempt(record, attempt, op[2], None, None)
        elif kind == "delete" and (found := pick(op[1])) is not None:
            store.delete_task(found.name)
        elif kind == "run" and (found := pick(op[1])) is not None:
            in_flight.append((found, store.begin_attempt(found)))  # RunTask, whatever the state
        elif kind in ("pause", "resume"):
            state = tasks_v2.Queue.State.PAUSED if kind == "pause" else tasks_v2.Queue.State.RUNNING
            store.set_state(f"{PARENT}/queues/{op[1]}", state)
        elif kind == "purge":
            store.purge_queue(f"{PARENT}/queues/{op[1]}")
        # after every step: what would be due an hour later (a query: nothing starts)
        due, _ = store.due_tasks(base + 3600)
        expected, _ = scan_due(store, base + 3600)
        assert sorted(r.name for r in due) == sorted(r.name for r in expected), op


# End to end -----------------------------------------------------------------------------------

class Target(ThreadingHTTPServer):
    """Answers 200 after ``hold`` seconds; records arrivals and the most requests at once."""

    daemon_threads = True

    def __init__(self, hold: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.hold = hold
        self.lock = threading.Lock()
        self.arrivals: list[tuple[str, float, dict[str, str]]] = []
        self.active = 0
        self.most_active = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def paths(self) -> list[str]:
        with self.lock:
            return [path for path, _, _ in self.arrivals]


class _Handler(BaseHTTPRequestHandler):
    server: Target
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.arrivals.append((self.path, time.time(), dict(self.headers.items())))
            self.server.active += 1
            self.server.most_active = max(self.server.most_active, self.server.active)
        try:
            threading.Event().wait(self.server.hold)  # the target's own work, not a test wait
        finally:
            with self.server.lock:
                self.server.active -= 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target(hold=0.1)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(project=PROJECT, location=LOCATION, min_dispatch_deadline=0.0)
    yield handle
    handle.stop()


def _queue(emulator: EmulatorHandle, queue_id: str, slots: int) -> str:
    client = emulator.client()
    return str(client.create_queue(parent=PARENT, queue=tasks_v2.Queue(
        name=emulator.queue_path(queue_id),
        rate_limits=tasks_v2.RateLimits(max_concurrent_dispatches=slots))).name)


def _held(emulator: EmulatorHandle, queue: str) -> int:
    """Tasks of ``queue`` still held (pending or in flight: a task is listed until its attempt
    has answered)."""
    return len(list(emulator.client().list_tasks(parent=queue)))


def test_paused_queue_with_many_tasks_dispatches_all_on_resume_within_its_concurrency(
        emulator: EmulatorHandle, target: Target) -> None:
    queue = _queue(emulator, "many-paused", slots=3)
    client = emulator.client()
    client.pause_queue(name=queue)
    adapter = TaskQueue(PROJECT, LOCATION, emulator.grpc_target)
    count = 60
    for i in range(count):
        assert adapter.enqueue(HttpTask(queue="many-paused", task_id=f"t{i}", url=f"{target.base}/t{i}",
                                        body=b"{}", headers={"Content-Type": "application/json"},
                                        oidc_service_account=SA))
    assert len(list(client.list_tasks(parent=queue))) == count
    assert target.paths() == []
    client.resume_queue(name=queue)
    wait_until(lambda: len(target.paths()) == count, 30, "every task to be delivered")
    wait_until(lambda: _held(emulator, queue) == 0, 10, "the queue to be empty")
    assert sorted(target.paths()) == sorted(f"/t{i}" for i in range(count))
    assert target.most_active == 3  # never more than max_concurrent_dispatches, and that many


def test_resumed_queue_dispatches_in_schedule_order(emulator: EmulatorHandle, target: Target) -> None:
    queue = _queue(emulator, "in-order", slots=1)
    client = emulator.client()
    client.pause_queue(name=queue)
    now = int(time.time())
    offsets = [7, 3, 9, 1, 5, 8, 2, 6, 4]  # seconds in the past, created out of order
    for offset in offsets:
        client.create_task(parent=queue, task=tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(url=f"{target.base}/ago{offset}"),
            schedule_time=timestamp_pb2.Timestamp(seconds=now - offset)))
    client.resume_queue(name=queue)
    wait_until(lambda: len(target.paths()) == len(offsets), 20, "every task to be delivered")
    assert target.paths() == [f"/ago{o}" for o in sorted(offsets, reverse=True)]


def test_future_tasks_dispatch_when_due_and_not_before(emulator: EmulatorHandle, target: Target) -> None:
    queue = _queue(emulator, "future", slots=5)
    client = emulator.client()
    now = time.time()
    due = {"/late": now + 1.2, "/soon": now + 0.6}
    for path, at in due.items():
        client.create_task(parent=queue, task=tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(url=target.base + path),
            schedule_time=timestamp_pb2.Timestamp(seconds=int(at), nanos=int(at % 1 * 1e9))))
    client.create_task(parent=queue, task=tasks_v2.Task(
        http_request=tasks_v2.HttpRequest(url=target.base + "/now")))
    wait_until(lambda: len(target.paths()) == 3, 10, "the three tasks to be delivered")
    assert target.paths() == ["/now", "/soon", "/late"]
    with target.lock:
        arrived = {path: at for path, at, _ in target.arrivals}
    for path, at in due.items():
        assert arrived[path] >= at - 1e-3, (path, arrived[path] - at)


def test_deleted_purged_and_run_tasks_are_not_dispatched_on_resume(
        emulator: EmulatorHandle, target: Target) -> None:
    queue = _queue(emulator, "gone-while-paused", slots=2)
    client = emulator.client()
    client.pause_queue(name=queue)
    names = {key: f"{queue}/tasks/{key}" for key in ("deleted", "ran", "kept")}
    for key, name in names.items():
        client.create_task(parent=queue, task=tasks_v2.Task(
            name=name, http_request=tasks_v2.HttpRequest(url=f"{target.base}/{key}")))
    client.delete_task(name=names["deleted"])
    client.run_task(name=names["ran"])
    wait_until(lambda: "/ran" in target.paths(), 10, "RunTask's dispatch")
    wait_until(lambda: _held(emulator, queue) == 1, 10, "the ran task to finish")
    client.resume_queue(name=queue)
    wait_until(lambda: _held(emulator, queue) == 0, 10, "the kept task to be dispatched")
    assert sorted(target.paths()) == ["/kept", "/ran"]

    client.pause_queue(name=queue)
    for i in range(5):
        client.create_task(parent=queue, task=tasks_v2.Task(
            http_request=tasks_v2.HttpRequest(url=f"{target.base}/purged{i}")))
    client.purge_queue(name=queue)
    client.create_task(parent=queue, task=tasks_v2.Task(
        http_request=tasks_v2.HttpRequest(url=f"{target.base}/after-purge")))
    client.resume_queue(name=queue)
    wait_until(lambda: _held(emulator, queue) == 0, 10, "the task created after the purge")
    assert sorted(target.paths()) == ["/after-purge", "/kept", "/ran"]


def test_create_task_checks_the_queue_before_the_task(emulator: EmulatorHandle) -> None:
    client = emulator.client()
    bad_task = tasks_v2.Task(http_request=tasks_v2.HttpRequest(url="ftp://example.com/x"))
    with pytest.raises(exceptions.NotFound):
        client.create_task(parent=emulator.queue_path("no-such-queue"), task=bad_task)
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(parent=PARENT + "/queues/bad.id", task=bad_task)


# CreateTask's answer, byte for byte -----------------------------------------------------------

def _requests(parent: str, now: float) -> list[tasks_v2.CreateTaskRequest]:
    at = timestamp_pb2.Timestamp(seconds=int(now) + 3600, nanos=123_456_789)
    http = tasks_v2.HttpRequest(
        url="https://fulfill.example.test/run?x=1", http_method=tasks_v2.HttpMethod.POST,
        headers={"Content-Type": "application/json", "X-B": "2", "X-A": "1", "X-C": "é"},
        body=b'{"topic":"payment","resource_id":"123"}',
        oidc_token=tasks_v2.OidcToken(service_account_email=SA, audience="https://aud.example/"))
    plain = tasks_v2.HttpRequest(url="http://127.0.0.1:9/plain")
    put = tasks_v2.HttpRequest(url="http://127.0.0.1:9/put", http_method=tasks_v2.HttpMethod.PUT,
                               body=b"\x00\xff binary")
    get = tasks_v2.HttpRequest(url="http://127.0.0.1:9/get", http_method=tasks_v2.HttpMethod.GET,
                               oidc_token=tasks_v2.OidcToken(service_account_email=SA))
    tasks = [
        tasks_v2.Task(name=f"{parent}/tasks/full", http_request=http, schedule_time=at,
                      dispatch_deadline=duration_pb2.Duration(seconds=60)),
        tasks_v2.Task(name=f"{parent}/tasks/plain", http_request=plain),
        tasks_v2.Task(name=f"{parent}/tasks/put", http_request=put,
                      dispatch_deadline=duration_pb2.Duration(seconds=15, nanos=500_000_000)),
        tasks_v2.Task(name=f"{parent}/tasks/get", http_request=get, schedule_time=at),
        # fields CreateTask ignores on input: counts, view, create_time, attempts
        tasks_v2.Task(name=f"{parent}/tasks/noise", http_request=plain, dispatch_count=7,
                      response_count=3, view=tasks_v2.Task.View.FULL, create_time=at,
                      first_attempt=tasks_v2.Attempt(dispatch_time=at)),
    ]
    return [tasks_v2.CreateTaskRequest(parent=parent, task=task, response_view=view)
            for task in tasks
            for view in (tasks_v2.Task.View.VIEW_UNSPECIFIED, tasks_v2.Task.View.BASIC,
                         tasks_v2.Task.View.FULL)]


def _old_answer(raw: bytes, now: float) -> bytes:
    """What the proto-plus path answered to the serialized CreateTaskRequest ``raw``."""
    request = tasks_v2.CreateTaskRequest.deserialize(raw)
    record = build_record(request.parent, request.task, 0.0, now=now)
    return bytes(tasks_v2.Task.serialize(record.to_proto(request.response_view)))


def _assert_same_answer(new: bytes, old: bytes) -> None:
    """Byte for byte, but for the order of the header map's entries on the wire, which protobuf
    leaves unspecified and which varies between processes on the old path too (the same
    request, serialized by proto-plus, varies as well): with more than one header, the messages
    are equal, as are their deterministic (key-sorted) encodings and their lengths."""
    message = tasks_v2.Task.pb()
    got, want = message.FromString(new), message.FromString(old)
    assert got == want
    assert got.SerializeToString(deterministic=True) == want.SerializeToString(deterministic=True)
    if len(want.http_request.headers) <= 1:
        assert new == old
    assert len(new) == len(old)


def test_create_task_answers_the_bytes_the_proto_plus_path_answered() -> None:
    parent = f"{PARENT}/queues/q"
    now = 1_800_000_000.654321
    for request in _requests(parent, now):
        raw = tasks_v2.CreateTaskRequest.serialize(request)
        pb = tasks_v2.CreateTaskRequest.pb().FromString(raw)
        record = build_record_pb(pb.parent, pb.task, 0.0, now=now)
        new = record.to_pb(pb.response_view).SerializeToString()
        _assert_same_answer(new, _old_answer(raw, now))
        # and once attempted (first/last attempt, counts): to_pb still matches to_proto
        attempt = Store().begin_attempt(record)
        attempt.response_time, attempt.status = now + 1, 503
        for view in (tasks_v2.Task.View.BASIC, tasks_v2.Task.View.FULL):
            _assert_same_answer(record.to_pb(view).SerializeToString(),
                                tasks_v2.Task.serialize(record.to_proto(view)))


def test_create_task_over_grpc_answers_the_old_bytes(emulator: EmulatorHandle) -> None:
    queue = _queue(emulator, "bytes", slots=1)
    emulator.client().pause_queue(name=queue)
    channel = grpc.insecure_channel(emulator.grpc_target)
    create = channel.unary_unary("/google.cloud.tasks.v2.CloudTasks/CreateTask")
    try:
        for request in _requests(queue, time.time()):
            if not request.task.schedule_time:
                continue  # the answer's schedule_time is the creation instant
            request.task.name += f"-{int(request.response_view)}"
            raw = tasks_v2.CreateTaskRequest.serialize(request)
            answer = create(raw, timeout=10)
            created = tasks_v2.Task.deserialize(answer)
            _assert_same_answer(answer, _old_answer(raw, float(created.create_time.timestamp())))
            assert abs(created.create_time.timestamp() - time.time()) < 60
    finally:
        channel.close()
