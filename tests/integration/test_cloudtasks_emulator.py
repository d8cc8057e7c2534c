"""The local Cloud Tasks emulator, driven by the real google-cloud-tasks client.

The emulator runs in-process on free ports with a small time scale (retry delays x0.05); a
threaded http.server is the task target. Its behaviour is chosen by the request path:
``/ok``, ``/fail`` (500), ``/busy-once`` (503 + Retry-After: 4, then 200), ``/sleep/S``
(sleep S seconds, then 200), ``/slow-once/S`` (sleep S on the first call only).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import google.auth.transport.requests
import grpc
import pytest
from google.api_core import exceptions
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.oauth2 import id_token
from google.protobuf import duration_pb2, timestamp_pb2

from local.cloudtasks_emulator import EmulatorHandle, start_emulator
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TIME_SCALE = 0.05
PROJECT = "demo-mp-local"
LOCATION = "us-central1"
SA = "tasks-invoker@demo-mp-local.iam.gserviceaccount.com"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class Target(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TargetHandler)
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def requests_to(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


class _TargetHandler(BaseHTTPRequestHandler):
    server: Target
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.received.append(Received(self.path, dict(self.headers.items()), body, time.time()))
            key = self.path + "|" + self.headers.get("X-CloudTasks-TaskName", "")
            call = self.server.calls.get(key, 0)
            self.server.calls[key] = call + 1
        parts = self.path.strip("/").split("/")
        status, extra = 200, {}
        if parts[0] == "fail":
            status = 500
        elif parts[0] == "busy-once" and call == 0:
            status, extra = 503, {"Retry-After": "4"}
        elif parts[0] == "sleep" or (parts[0] == "slow-once" and call == 0):
            time.sleep(float(parts[1]))
        try:
            self.send_response(status)
            for key, value in extra.items():
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:
            pass  # the emulator gave up (deadline) and closed the connection

    do_POST = do_PUT = do_GET = do_DELETE = _handle

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    server = Target()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorHandle]:
    handle = start_emulator(
        project=PROJECT,
        location=LOCATION,
        queues=["fulfill:max_attempts=10,min_backoff=0.2,max_backoff=10,max_doublings=4"],
        time_scale=TIME_SCALE,
        min_dispatch_deadline=0.0,
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def client(emulator: EmulatorHandle) -> tasks_v2.CloudTasksClient:
    channel = grpc.insecure_channel(f"127.0.0.1:{emulator.grpc_port}")
    return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))


@pytest.fixture
def queue(client: tasks_v2.CloudTasksClient, request: pytest.FixtureRequest) -> str:
    """A fresh queue per test (min_backoff 1 s, i.e. 50 ms at the test's time scale)."""
    queue_id = request.node.name.replace("_", "-")[:60]
    parent = client.common_location_path(PROJECT, LOCATION)
    queue = tasks_v2.Queue(
        name=client.queue_path(PROJECT, LOCATION, queue_id),
        retry_config=tasks_v2.RetryConfig(
            max_attempts=5,
            min_backoff=duration_pb2.Duration(seconds=1),
            max_backoff=duration_pb2.Duration(seconds=20),
            max_doublings=3,
        ),
    )
    return str(client.create_queue(parent=parent, queue=queue).name)


def http_task(
    url: str,
    name: str = "",
    schedule_time: timestamp_pb2.Timestamp | None = None,
    **kwargs: object,
) -> tasks_v2.Task:
    task = tasks_v2.Task(name=name, http_request=tasks_v2.HttpRequest(url=url, **kwargs))
    if schedule_time is not None:
        task.schedule_time = schedule_time
    return task


def idle(emulator: EmulatorHandle, queue: str) -> bool:
    """No task of ``queue`` is pending or in flight in the emulator."""
    with urllib.request.urlopen(emulator.http_url + "/_emulator/tasks") as response:
        data = json.load(response)
    return not [t for t in data["tasks"] if t["queue_name"] == queue] \
        and not data["queues"][queue]["in_flight"]


def history(emulator: EmulatorHandle, task_name: str) -> list[dict]:
    with urllib.request.urlopen(emulator.http_url + "/_emulator/tasks") as response:
        data = json.load(response)
    return [h for h in data["history"] if h["name"] == task_name]


def test_task_is_delivered_with_headers_and_body(client, emulator, target, queue):
    name = f"{queue}/tasks/n-first"
    body = json.dumps({"topic": "payment", "resource_id": "123"}).encode()
    created = client.create_task(
        parent=queue,
        task=http_task(
            target.base + "/ok/first",
            name=name,
            http_method=tasks_v2.HttpMethod.POST,
            headers={"Content-Type": "application/json", "X-Custom": "yes"},
            body=body,
        ),
    )
    assert created.name == name
    wait_until(lambda: target.requests_to("/ok/first"))
    (got,) = target.requests_to("/ok/first")
    assert got.body == body
    h = got.headers
    assert h["Content-Type"] == "application/json"
    assert h["X-Custom"] == "yes"
    assert h["User-Agent"] == "Google-Cloud-Tasks"
    assert h["X-CloudTasks-QueueName"] == queue.rsplit("/", 1)[1]
    assert h["X-CloudTasks-TaskName"] == "n-first"
    assert h["X-CloudTasks-TaskRetryCount"] == "0"
    assert h["X-CloudTasks-TaskExecutionCount"] == "0"
    eta = created.schedule_time.timestamp()
    assert abs(float(h["X-CloudTasks-TaskETA"]) - eta) < 0.001
    assert "Authorization" not in h
    wait_until(lambda: history(emulator, name))
    assert history(emulator, name)[0]["outcome"] == "succeeded"
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=name)


def test_unnamed_task_gets_an_id(client, target, queue):
    created = client.create_task(parent=queue, task=http_task(target.base + "/ok/unnamed"))
    assert created.name.startswith(queue + "/tasks/")
    task_id = created.name.rsplit("/", 1)[1]
    assert task_id.isdigit()
    wait_until(lambda: target.requests_to("/ok/unnamed"))
    assert target.requests_to("/ok/unnamed")[0].headers["X-CloudTasks-TaskName"] == task_id


def test_named_task_twice_is_already_exists_pending_deleted_and_after_it_ran(client, emulator, target, queue):
    later = timestamp_pb2.Timestamp(seconds=int(time.time()) + 3600)
    pending = f"{queue}/tasks/n-pending"
    client.create_task(parent=queue, task=http_task(target.base + "/ok/p", name=pending, schedule_time=later))
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue, task=http_task(target.base + "/ok/p", name=pending))
    client.delete_task(name=pending)
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue, task=http_task(target.base + "/ok/p", name=pending))

    ran = f"{queue}/tasks/n-ran"
    client.create_task(parent=queue, task=http_task(target.base + "/ok/ran", name=ran))
    wait_until(lambda: history(emulator, ran))
    with pytest.raises(exceptions.AlreadyExists):
        client.create_task(parent=queue, task=http_task(target.base + "/ok/ran", name=ran))
    assert len(target.requests_to("/ok/ran")) == 1


def test_reservation_window_expires():
    emu = start_emulator(queues=["q"], reservation_seconds=0.2, min_dispatch_deadline=0.0)
    try:
        client = emu.client()
        later = timestamp_pb2.Timestamp(seconds=int(time.time()) + 3600)
        name = emu.queue_path("q") + "/tasks/again"
        task = http_task("http://127.0.0.1:9/never", name=name, schedule_time=later)
        client.create_task(parent=emu.queue_path("q"), task=task)
        client.delete_task(name=name)
        with pytest.raises(exceptions.AlreadyExists):
            client.create_task(parent=emu.queue_path("q"), task=task)
        # refused while reserved, accepted once the 0.2 s window has passed
        wait_until(lambda: client.create_task(parent=emu.queue_path("q"), task=task), 5,
                   "the name's reservation to expire", retry_on=(exceptions.AlreadyExists,))
    finally:
        emu.stop()


@pytest.mark.parametrize("task_id", ["has.dot", "has space", "x" * 501, "ünï"])
def test_invalid_task_id_is_invalid_argument(client, target, task_id):
    queue = client.queue_path(PROJECT, LOCATION, "fulfill")
    with pytest.raises(exceptions.InvalidArgument):
        client.create_task(parent=queue, task=http_task(target.base + "/ok", name=f"{queue}/tasks/{task_id}"))


def test_invalid_requests_are_invalid_argument(client, target):
    queue = client.queue_path(PROJECT, LOCATION, "fulfill")
    bad = [
        http_task("ftp://example.com/x"),
        http_task(target.base + "/ok", http_method=tasks_v2.HttpMethod.GET, body=b"x"),
        http_task(target.base + "/ok", name=client.queue_path(PROJECT, LOCATION, "other") + "/tasks/a"),
    ]
    for task in bad:
        with pytest.raises(exceptions.InvalidArgument):
            client.create_task(parent=queue, task=task)


def test_retries_back_off_until_max_attempts_then_drop(client, emulator, target, queue):
    # queue: max_attempts 5, min_backoff 1 s, max_doublings 3 -> gaps 1, 2, 4, 8 s (x0.05)
    name = f"{queue}/tasks/always-fails"
    client.create_task(parent=queue, task=http_task(target.base + "/fail/x", name=name))
    wait_until(lambda: history(emulator, name), timeout=5)
    # dropped: gone from the queue with nothing in flight, so no attempt can follow
    wait_until(lambda: idle(emulator, queue), what=f"{queue} to be idle")
    got = target.requests_to("/fail/x")
    assert len(got) == 5
    assert [r.headers["X-CloudTasks-TaskRetryCount"] for r in got] == ["0", "1", "2", "3", "4"]
    assert [r.headers["X-CloudTasks-TaskExecutionCount"] for r in got] == ["0", "1", "2", "3", "4"]
    assert [r.headers.get("X-CloudTasks-TaskPreviousResponse") for r in got[1:]] == ["500"] * 4
    gaps = [b.at - a.at for a, b in zip(got, got[1:])]
    for gap, expected in zip(gaps, [1, 2, 4, 8]):
        assert expected * TIME_SCALE * 0.9 <= gap <= expected * TIME_SCALE + 0.15, gaps
    assert gaps[0] < gaps[1] < gaps[2] < gaps[3]
    (entry,) = history(emulator, name)
    assert entry["outcome"] == "dropped"
    assert [a["status"] for a in entry["attempts"]] == [500] * 5
    assert [a["retry_count"] for a in entry["attempts"]] == [0, 1, 2, 3, 4]


def test_backoff_grows_linearly_after_doublings_and_caps():
    from local.cloudtasks_emulator.retry import RetryPolicy

    policy = RetryPolicy(max_attempts=20, min_backoff=10, max_backoff=300, max_doublings=3)
    delays = [policy.backoff(k) for k in range(1, 9)]
    assert delays == [10, 20, 40, 80, 160, 240, 300, 300]
    both = RetryPolicy(max_attempts=3, max_retry_duration=60)
    assert not both.exhausted(attempts=3, age=10)
    assert both.exhausted(attempts=3, age=61)
    assert RetryPolicy(max_attempts=-1).exhausted(attempts=10_000, age=1e9) is False


def test_retry_after_is_honoured(client, emulator, target, queue):
    name = f"{queue}/tasks/busy"
    client.create_task(parent=queue, task=http_task(target.base + "/busy-once", name=name))
    wait_until(lambda: history(emulator, name), timeout=5)
    got = target.requests_to("/busy-once")
    assert len(got) == 2
    gap = got[1].at - got[0].at
    assert gap >= 4 * TIME_SCALE * 0.95  # Retry-After: 4, not min_backoff 1
    assert gap < 4 * TIME_SCALE + 0.15
    assert history(emulator, name)[0]["attempts"][0]["retry_after"] == 4


def test_dispatch_deadline_timeout_is_a_failure_and_retries(client, emulator, target, queue):
    name = f"{queue}/tasks/slow"
    task = http_task(target.base + "/slow-once/1.0", name=name)
    task.dispatch_deadline = duration_pb2.Duration(nanos=300_000_000)
    client.create_task(parent=queue, task=task)
    wait_until(lambda: history(emulator, name), timeout=5)
    got = target.requests_to("/slow-once/1.0")
    assert len(got) == 2
    assert got[1].at - got[0].at < 0.9  # retried after the 0.3 s deadline, not the 1 s sleep
    assert got[1].headers["X-CloudTasks-TaskRetryCount"] == "1"
    assert got[1].headers["X-CloudTasks-TaskExecutionCount"] == "0"
    (entry,) = history(emulator, name)
    assert entry["outcome"] == "succeeded"
    assert "deadline" in entry["attempts"][0]["error"]
    assert entry["attempts"][1]["status"] == 200


def test_dispatch_deadline_out_of_range_is_invalid_argument(target):
    emu = start_emulator(queues=["q"])  # the service's 15 s minimum
    try:
        task = http_task(target.base + "/ok")
        task.dispatch_deadline = duration_pb2.Duration(seconds=5)
        with pytest.raises(exceptions.InvalidArgument):
            emu.client().create_task(parent=emu.queue_path("q"), task=task)
    finally:
        emu.stop()


def test_hanging_handler_does_not_block_other_tasks(client, target, queue):
    hang = http_task(target.base + "/sleep/2", name=f"{queue}/tasks/hangs")
    hang.dispatch_deadline = duration_pb2.Duration(seconds=3)
    client.create_task(parent=queue, task=hang)
    wait_until(lambda: target.requests_to("/sleep/2"))
    started = time.monotonic()
    client.create_task(parent=queue, task=http_task(target.base + "/ok/while-hanging"))
    wait_until(lambda: target.requests_to("/ok/while-hanging"), timeout=1.5)
    assert time.monotonic() - started < 0.5
    client.delete_task(name=f"{queue}/tasks/hangs")


def test_max_concurrent_dispatches_bounds_a_queue(client, target):
    parent = client.common_location_path(PROJECT, LOCATION)
    queue = client.create_queue(
        parent=parent,
        queue=tasks_v2.Queue(
            name=client.queue_path(PROJECT, LOCATION, "one-at-a-time"),
            rate_limits=tasks_v2.RateLimits(max_concurrent_dispatches=1),
        ),
    ).name
    for _ in range(2):
        client.create_task(parent=queue, task=http_task(target.base + "/sleep/0.3"))
    wait_until(lambda: len(target.requests_to("/sleep/0.3")) == 2, timeout=3)
    first, second = target.requests_to("/sleep/0.3")
    assert second.at - first.at >= 0.28


def test_oidc_token_verifies_against_the_certs_url(client, emulator, target, queue):
    audience = "https://fulfill.example.test/"
    client.create_task(
        parent=queue,
        task=http_task(
            target.base + "/ok/oidc",
            oidc_token=tasks_v2.OidcToken(service_account_email=SA, audience=audience),
        ),
    )
    client.create_task(
        parent=queue,
        task=http_task(
            target.base + "/ok/oidc-default-aud",
            oidc_token=tasks_v2.OidcToken(service_account_email=SA),
        ),
    )
    wait_until(lambda: target.requests_to("/ok/oidc") and target.requests_to("/ok/oidc-default-aud"))
    request = google.auth.transport.requests.Request()
    auth = target.requests_to("/ok/oidc")[0].headers["Authorization"]
    assert auth.startswith("Bearer ")
    token = auth.removeprefix("Bearer ")
    claims = id_token.verify_token(token, request, audience=audience, certs_url=emulator.certs_url)
    assert claims["email"] == SA
    assert claims["email_verified"] is True
    assert claims["aud"] == audience
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["sub"] == claims["azp"]
    assert claims["exp"] - claims["iat"] == 3600
    with pytest.raises(ValueError):
        id_token.verify_token(token, request, audience="https://other.example/", certs_url=emulator.certs_url)
    other = target.requests_to("/ok/oidc-default-aud")[0].headers["Authorization"][7:]
    claims = id_token.verify_token(
        other, request, audience=target.base + "/ok/oidc-default-aud", certs_url=emulator.certs_url
    )
    assert claims["email"] == SA


def test_get_list_delete_and_run_task(client, target, queue):
    later = timestamp_pb2.Timestamp(seconds=int(time.time()) + 3600)
    names = [f"{queue}/tasks/t{i}" for i in range(3)]
    for name in names:
        client.create_task(
            parent=queue,
            task=http_task(target.base + "/ok/" + name[-2:], name=name, body=b"payload", schedule_time=later),
        )
    listed = list(client.list_tasks(request={"parent": queue, "page_size": 2}))
    assert sorted(t.name for t in listed) == names
    basic = client.get_task(name=names[0])
    assert basic.name == names[0]
    assert basic.schedule_time.timestamp() == later.seconds
    assert basic.dispatch_count == 0
    assert basic.http_request.body == b""
    full = client.get_task(request={"name": names[0], "response_view": tasks_v2.Task.View.FULL})
    assert full.http_request.body == b"payload"

    client.delete_task(name=names[1])
    assert sorted(t.name for t in client.list_tasks(parent=queue)) == [names[0], names[2]]
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=names[1])
    with pytest.raises(exceptions.NotFound):
        client.delete_task(name=names[1])

    ran = client.run_task(name=names[2])
    assert ran.dispatch_count == 1
    wait_until(lambda: target.requests_to("/ok/t2"))
    wait_until(lambda: [t.name for t in client.list_tasks(parent=queue)] == [names[0]])
    with pytest.raises(exceptions.NotFound):
        client.run_task(name=names[2])


def test_pause_resume_and_purge(client, target, queue):
    client.pause_queue(name=queue)
    assert client.get_queue(name=queue).state == tasks_v2.Queue.State.PAUSED
    paused = client.create_task(parent=queue, task=http_task(target.base + "/ok/paused"))
    # a task created later in a running queue is dispatched: the scheduler has looked at the
    # paused one (its attempt would be counted before any dispatch) and left it alone
    fulfill = client.queue_path(PROJECT, LOCATION, "fulfill")
    client.create_task(parent=fulfill, task=http_task(target.base + "/ok/running"))
    wait_until(lambda: target.requests_to("/ok/running"), what="the running queue's task")
    assert client.get_task(name=paused.name).dispatch_count == 0
    assert not target.requests_to("/ok/paused")
    client.resume_queue(name=queue)
    wait_until(lambda: target.requests_to("/ok/paused"))

    later = timestamp_pb2.Timestamp(seconds=int(time.time()) + 3600)
    client.create_task(parent=queue, task=http_task(target.base + "/ok", schedule_time=later))
    client.purge_queue(name=queue)
    assert list(client.list_tasks(parent=queue)) == []


def test_queues_create_get_list_delete(client):
    parent = client.common_location_path(PROJECT, LOCATION)
    name = client.queue_path(PROJECT, LOCATION, "made-by-test")
    created = client.create_queue(parent=parent, queue=tasks_v2.Queue(name=name))
    assert created.retry_config.max_attempts == 100
    assert created.state == tasks_v2.Queue.State.RUNNING
    with pytest.raises(exceptions.AlreadyExists):
        client.create_queue(parent=parent, queue=tasks_v2.Queue(name=name))
    fulfill = client.get_queue(name=client.queue_path(PROJECT, LOCATION, "fulfill"))
    assert fulfill.retry_config.max_attempts == 10
    assert fulfill.retry_config.min_backoff.total_seconds() == pytest.approx(0.2)
    assert fulfill.retry_config.max_doublings == 4
    assert name in [q.name for q in client.list_queues(parent=parent)]
    client.delete_queue(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=name)


def test_unknown_queue_is_not_found(client, target):
    missing = client.queue_path(PROJECT, LOCATION, "no-such-queue")
    with pytest.raises(exceptions.NotFound):
        client.create_task(parent=missing, task=http_task(target.base + "/ok"))
    with pytest.raises(exceptions.NotFound):
        client.get_queue(name=missing)
    with pytest.raises(exceptions.NotFound):
        list(client.list_tasks(parent=missing))
    with pytest.raises(exceptions.NotFound):
        client.get_task(name=missing + "/tasks/x")


def test_http_side_health_and_reset(client, emulator, target, queue):
    with urllib.request.urlopen(emulator.http_url + "/healthz") as response:
        assert response.read() == b"ok"
    name = f"{queue}/tasks/reset-me"
    client.create_task(parent=queue, task=http_task(target.base + "/ok/reset", name=name))
    wait_until(lambda: history(emulator, name))
    reset = urllib.request.Request(emulator.http_url + "/_emulator/reset", method="POST")
    with urllib.request.urlopen(reset) as response:
        assert json.load(response) == {"reset": True}
    assert history(emulator, name) == []
    client.create_task(parent=queue, task=http_task(target.base + "/ok/reset", name=name))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_starts_serves_and_stops_on_sigterm():
    grpc_port, http_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.cloudtasks_emulator",
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
            "--queue",
            "fulfill:max_attempts=10,min_backoff=0.2,max_backoff=10,max_doublings=4",
            "--queue",
            "merchant-events",
            "--time-scale",
            "0.5",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=1):
                    return True
            except OSError:
                return False

        wait_until(ready, timeout=10)
        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        cli_client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
        queue = cli_client.get_queue(name=cli_client.queue_path(PROJECT, LOCATION, "fulfill"))
        assert queue.retry_config.max_attempts == 10
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    assert "ready grpc=127.0.0.1:" in proc.stderr.read()
