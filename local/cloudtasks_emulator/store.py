"""The emulator's state (queues, tasks, name reservations, history) and its transitions.

Everything is guarded by one lock; ``changed`` (a Condition on it) wakes the dispatcher
whenever something it may act on changes. Finished tasks (succeeded, dropped after the last
attempt, deleted, purged) keep their name reserved for ``reservation_seconds`` and leave a
JSON snapshot, with every attempt, in ``history``. Tasks are also indexed per queue, and
those waiting for a dispatch sit in per-queue heaps (``waiting.py``), so the dispatcher's
wake-up and CreateTask cost does not grow with the number of tasks held.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from google.cloud import tasks_v2

from .errors import already_exists, invalid, not_found
from .model import AttemptRecord, TaskRecord
from .names import InvalidName, check_location_name, check_queue_name, split_task_name
from .queues import InvalidQueueConfig, max_concurrent, retry_policy, with_defaults
from .timeutil import timestamp
from .waiting import WaitingTasks

log = logging.getLogger("cloudtasks_emulator")

HISTORY_LIMIT = 10_000
TOO_RECENT = (
    "The task cannot be created because a task with this name existed too recently. "
    "For more information about task de-duplication see "
    "https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/"
    "create#body.request_body.FIELDS.task."
)


def copy_queue(queue: tasks_v2.Queue) -> tasks_v2.Queue:
    """A detached copy of a Queue message."""
    copied: tasks_v2.Queue = tasks_v2.Queue.deserialize(tasks_v2.Queue.serialize(queue))
    return copied


@dataclass(frozen=True)
class Outcome:
    """What happened after an attempt: ``done`` (with a reason) or retry after ``delay``."""

    done: str | None
    delay: float | None


class Store:
    """Queues, tasks, reservations and history, safe to use from many threads."""

    def __init__(self, reservation_seconds: float = 3600.0, time_scale: float = 1.0) -> None:
        self.reservation_seconds = reservation_seconds
        self.time_scale = time_scale
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.queues: dict[str, tasks_v2.Queue] = {}
        self.tasks: dict[str, TaskRecord] = {}
        self.by_queue: dict[str, dict[str, TaskRecord]] = {}
        self.waiting = WaitingTasks()
        self.reservations: dict[str, float] = {}
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=HISTORY_LIMIT)
        self.inflight: collections.Counter[str] = collections.Counter()

    # Queues -------------------------------------------------------------------------------

    def create_queue(self, parent: str, queue: tasks_v2.Queue) -> tasks_v2.Queue:
        """CreateQueue: validate, fill defaults, store; ALREADY_EXISTS if the name is taken."""
        try:
            check_location_name(parent)
            check_queue_name(queue.name)
            if not queue.name.startswith(parent + "/queues/"):
                raise InvalidName(f"Queue name {queue.name!r} is not under {parent!r}")
            queue = with_defaults(copy_queue(queue))
        except (InvalidName, InvalidQueueConfig) as exc:
            raise invalid(str(exc)) from exc
        with self.lock:
            if queue.name in self.queues:
                raise already_exists()
            self.queues[queue.name] = queue
            self.changed.notify_all()
            return copy_queue(queue)

    def update_queue(self, queue: tasks_v2.Queue, paths: list[str]) -> tasks_v2.Queue:
        """UpdateQueue: replace the fields in ``paths`` (all if empty); creates if missing."""
        with self.lock:
            current = self.queues.get(queue.name)
            if current is None:
                parent = queue.name.split("/queues/")[0]
                return self.create_queue(parent, queue)
            merged = copy_queue(current)
            new_pb, merged_pb = tasks_v2.Queue.pb(queue), tasks_v2.Queue.pb(merged)
            for path in paths or ["retry_config", "rate_limits"]:
                top = path.split(".")[0]
                if top not in ("retry_config", "rate_limits", "stackdriver_logging_config"):
                    raise invalid(f"Cannot update field {path!r}")
                getattr(merged_pb, top).CopyFrom(getattr(new_pb, top))
            try:
                merged = with_defaults(merged)
            except InvalidQueueConfig as exc:
                raise invalid(str(exc)) from exc
            self.queues[queue.name] = merged
            self.changed.notify_all()
            return copy_queue(merged)

    def get_queue(self, name: str) -> tasks_v2.Queue:
        """GetQueue; NOT_FOUND if missing."""
        with self.lock:
            return copy_queue(self._queue(name))

    def list_queues(self, parent: str, state_filter: str) -> list[tasks_v2.Queue]:
        """ListQueues of a location, optionally only those in one state."""
        with self.lock:
            found = [
                copy_queue(q)
                for name, q in sorted(self.queues.items())
                if name.startswith(parent + "/queues/")
                and (not state_filter or tasks_v2.Queue.State(q.state).name == state_filter)
            ]
        return found

    def delete_queue(self, name: str) -> None:
        """DeleteQueue: the queue and its tasks go away."""
        with self.lock:
            self._queue(name)
            del self.queues[name]
            for record in self._queue_tasks(name):
                self._finish(record, "queue_deleted", time.time())
            self.by_queue.pop(name, None)
            self.waiting.drop_queue(name)

    def purge_queue(self, name: str) -> tasks_v2.Queue:
        """PurgeQueue: delete every task of the queue."""
        with self.lock:
            queue = self._queue(name)
            now = time.time()
            for record in self._queue_tasks(name):
                self._finish(record, "purged", now)
            self.waiting.drop_queue(name)
            queue.purge_time = timestamp(now)
            return copy_queue(queue)

    def set_state(self, name: str, state: int) -> tasks_v2.Queue:
        """PauseQueue / ResumeQueue."""
        with self.lock:
            queue = self._queue(name)
            queue.state = tasks_v2.Queue.State(state)
            self.changed.notify_all()
            return copy_queue(queue)

    # Tasks --------------------------------------------------------------------------------

    def add_task(self, record: TaskRecord) -> TaskRecord:
        """CreateTask: store ``record``; ALREADY_EXISTS if the name exists or is reserved."""
        with self.lock:
            queue = self._queue(record.queue_name)
            if record.name in self.tasks:
                raise already_exists()
            reserved_until = self.reservations.get(record.name)
            if reserved_until is not None:
                if reserved_until > time.time():
                    raise already_exists(TOO_RECENT)
                del self.reservations[record.name]
            self.tasks[record.name] = record
            self.by_queue.setdefault(record.queue_name, {})[record.name] = record
            self.waiting.push(record)
            if queue.state == tasks_v2.Queue.State.RUNNING:  # a paused queue's tasks wait for resume
                self.changed.notify_all()
            return record

    def check_queue(self, name: str) -> None:
        """INVALID_ARGUMENT for a malformed queue name, NOT_FOUND for a missing queue."""
        with self.lock:
            self._queue(name)

    def get_task(self, name: str) -> TaskRecord:
        """GetTask / RunTask target; NOT_FOUND if the queue or the task is missing."""
        try:
            queue_name, _ = split_task_name(name)
        except InvalidName as exc:
            raise invalid(str(exc)) from exc
        with self.lock:
            self._queue(queue_name)
            record = self.tasks.get(name)
            if record is None:
                raise not_found()
            return record

    def list_tasks(self, queue_name: str) -> list[TaskRecord]:
        """ListTasks of a queue, in schedule order."""
        with self.lock:
            self._queue(queue_name)
            return sorted(self._queue_tasks(queue_name), key=lambda r: (r.schedule_time, r.name))

    def delete_task(self, name: str) -> None:
        """DeleteTask; the name stays reserved."""
        with self.lock:
            record = self.get_task(name)
            self._finish(record, "deleted", time.time())

    # Dispatch bookkeeping -----------------------------------------------------------------

    def due_tasks(self, now: float) -> tuple[list[TaskRecord], float | None]:
        """Tasks to dispatch now (running queues, within concurrency) and the next wake-up."""
        with self.lock:
            due: list[TaskRecord] = []
            wake: float | None = None
            for queue_name, queue in self.queues.items():
                if queue.state != tasks_v2.Queue.State.RUNNING:
                    continue
                room = max_concurrent(queue) - self.inflight[queue_name]
                records, next_time = self.waiting.due(queue_name, now, room)
                due.extend(records)
                if next_time is not None:
                    wake = next_time if wake is None else min(wake, next_time)
            return due, wake

    def begin_attempt(self, record: TaskRecord) -> AttemptRecord:
        """Count a dispatch of ``record`` and return its attempt record."""
        with self.lock:
            now = time.time()
            attempt = AttemptRecord(
                schedule_time=record.schedule_time,
                dispatch_time=now,
                retry_count=record.dispatch_count,
                execution_count=record.response_count,
            )
            record.dispatch_count += 1
            record.in_flight += 1
            self.waiting.discard(record)
            if record.first_dispatch_time is None:
                record.first_dispatch_time = now
            record.attempts.append(attempt)
            self.inflight[record.queue_name] += 1
            return attempt

    def complete_attempt(
        self,
        record: TaskRecord,
        attempt: AttemptRecord,
        status: int | None,
        error: str | None,
        retry_after: float | None,
    ) -> Outcome:
        """Record an attempt's result; finish the task or schedule its retry."""
        with self.lock:
            now = time.time()
            attempt.response_time, attempt.status, attempt.error = now, status, error
            attempt.retry_after = retry_after
            record.in_flight -= 1
            self.inflight[record.queue_name] -= 1
            if status is not None:
                record.response_count += 1
            self.changed.notify_all()
            if not record.live:
                return Outcome(done="ignored (task already gone)", delay=None)
            if status is not None and 200 <= status < 300:
                self._finish(record, "succeeded", now)
                return Outcome(done="succeeded", delay=None)
            queue = self.queues.get(record.queue_name)
            if queue is None:
                self._finish(record, "queue_deleted", now)
                return Outcome(done="queue_deleted", delay=None)
            policy = retry_policy(queue).scaled(self.time_scale)
            age = now - (record.first_dispatch_time or now)
            if policy.exhausted(record.dispatch_count, age):
                self._finish(record, "dropped", now)
                return Outcome(done="dropped", delay=None)
            delay = policy.backoff(record.dispatch_count)
            if status in (429, 503) and retry_after is not None:
                delay = max(delay, retry_after * self.time_scale)
            attempt.next_delay = delay
            record.schedule_time = now + delay
            if record.in_flight == 0:
                self.waiting.push(record)
            return Outcome(done=None, delay=delay)

    # Admin --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON view: pending tasks and history."""
        with self.lock:
            pending = sorted(self.tasks.values(), key=lambda r: (r.schedule_time, r.name))
            return {
                "queues": {
                    name: {
                        "state": tasks_v2.Queue.State(q.state).name,
                        "in_flight": self.inflight[name],
                    }
                    for name, q in sorted(self.queues.items())
                },
                "tasks": [r.to_json() for r in pending],
                "history": list(self.history),
            }

    def reset(self) -> None:
        """Purge every queue, forget history and reservations."""
        with self.lock:
            for record in list(self.tasks.values()):
                record.live = False
            self.tasks.clear()
            self.by_queue.clear()
            self.waiting.clear()
            self.history.clear()
            self.reservations.clear()
            self.changed.notify_all()

    # Internals ----------------------------------------------------------------------------

    def _queue(self, name: str) -> tasks_v2.Queue:
        try:
            check_queue_name(name)
        except InvalidName as exc:
            raise invalid(str(exc)) from exc
        queue = self.queues.get(name)
        if queue is None:
            raise not_found(f"Queue does not exist. (queue: {name})")
        return queue

    def _queue_tasks(self, queue_name: str) -> list[TaskRecord]:
        return list(self.by_queue.get(queue_name, {}).values())

    def _finish(self, record: TaskRecord, outcome: str, now: float) -> None:
        record.live = False
        if self.tasks.get(record.name) is record:
            del self.tasks[record.name]
            self.by_queue.get(record.queue_name, {}).pop(record.name, None)
        self.waiting.discard(record)
        self.reservations[record.name] = now + self.reservation_seconds
        self.history.append(record.to_json(outcome=outcome, finished=now))
        self.changed.notify_all()
