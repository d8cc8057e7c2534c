"""Dispatching due tasks to their HTTP targets, each on its own daemon thread.

A scheduler thread wakes when a task falls due or the store changes, and starts one thread
per due task, never more per queue than the queue's ``max_concurrent_dispatches``; a hanging
target therefore holds only its own slot, until its ``dispatch_deadline``. Each dispatch
adds the ``X-CloudTasks-*`` headers, ``User-Agent: Google-Cloud-Tasks`` and, for
``oidc_token`` tasks, ``Authorization: Bearer <ID token>``; it logs one line to stderr.
"""

from __future__ import annotations

import logging
import threading
import time

from google.cloud import tasks_v2

from .http_send import Answer, send
from .model import AttemptRecord, TaskRecord
from .names import short_id
from .oidc import Issuer
from .retry import parse_retry_after
from .store import Store

log = logging.getLogger("cloudtasks_emulator")

USER_AGENT = "Google-Cloud-Tasks"
_DROPPED_HEADERS = ("host", "content-length", "user-agent")
_DROPPED_PREFIXES = ("x-google-", "x-appengine-", "x-cloudtasks-")


class Dispatcher:
    """Runs the scheduler thread and the per-dispatch threads."""

    def __init__(self, store: Store, issuer: Issuer) -> None:
        self.store = store
        self.issuer = issuer
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tasks-scheduler", daemon=True)

    def start(self) -> None:
        """Start the scheduler thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop scheduling; attempts in flight finish on their own (daemon threads)."""
        self._stopped.set()
        with self.store.changed:
            self.store.changed.notify_all()
        self._thread.join(timeout=5)

    def run_now(self, record: TaskRecord) -> AttemptRecord:
        """RunTask: dispatch ``record`` at once, whatever its queue's state or load."""
        attempt = self.store.begin_attempt(record)
        self._spawn(record, attempt)
        return attempt

    def _loop(self) -> None:
        store = self.store
        while not self._stopped.is_set():
            with store.changed:
                due, wake = store.due_tasks(time.time())
                started = [(record, store.begin_attempt(record)) for record in due]
                if not started:
                    timeout = 1.0 if wake is None else min(max(wake - time.time(), 0.0), 1.0)
                    store.changed.wait(timeout)
            for record, attempt in started:
                self._spawn(record, attempt)

    def _spawn(self, record: TaskRecord, attempt: AttemptRecord) -> None:
        thread = threading.Thread(
            target=self._dispatch,
            args=(record, attempt),
            name=f"dispatch-{short_id(record.name)[:40]}",
            daemon=True,
        )
        thread.start()

    def _dispatch(self, record: TaskRecord, attempt: AttemptRecord) -> None:
        request = record.http_request
        method = tasks_v2.HttpMethod(request.http_method or tasks_v2.HttpMethod.POST).name
        headers = self._headers(record, attempt)
        started = time.monotonic()
        try:
            answer = send(method, request.url, headers, bytes(request.body), record.dispatch_deadline)
        except Exception as exc:  # a bug here must not kill the task silently
            answer = Answer(status=None, error=f"{type(exc).__name__}: {exc}")
        elapsed_ms = (time.monotonic() - started) * 1000
        retry_after = None
        if answer.status in (429, 503):
            retry_after = parse_retry_after(answer.retry_after)
        outcome = self.store.complete_attempt(record, attempt, answer.status, answer.error, retry_after)
        result = str(answer.status) if answer.status is not None else answer.error
        then = outcome.done if outcome.done else f"retry in {outcome.delay:.3f}s"
        log.info(
            "dispatch queue=%s task=%s retry=%d %s %s -> %s (%.0f ms); %s",
            short_id(record.queue_name),
            short_id(record.name),
            attempt.retry_count,
            method,
            request.url,
            result,
            elapsed_ms,
            then,
        )

    def _headers(self, record: TaskRecord, attempt: AttemptRecord) -> dict[str, str]:
        request = record.http_request
        headers: dict[str, str] = {}
        for key, value in request.headers.items():
            lower = key.lower()
            if lower in _DROPPED_HEADERS or lower.startswith(_DROPPED_PREFIXES):
                continue
            headers[key] = value
        if not any(key.lower() == "content-type" for key in headers):
            headers["Content-Type"] = "application/octet-stream"
        headers["User-Agent"] = USER_AGENT
        headers["X-CloudTasks-QueueName"] = short_id(record.queue_name)
        headers["X-CloudTasks-TaskName"] = short_id(record.name)
        headers["X-CloudTasks-TaskRetryCount"] = str(attempt.retry_count)
        headers["X-CloudTasks-TaskExecutionCount"] = str(attempt.execution_count)
        headers["X-CloudTasks-TaskETA"] = f"{attempt.schedule_time:.6f}"
        with self.store.lock:
            earlier = [a for a in record.attempts if a is not attempt and a.status is not None]
        if earlier:
            headers["X-CloudTasks-TaskPreviousResponse"] = str(earlier[-1].status)
        pb = tasks_v2.HttpRequest.pb(request)
        if pb.HasField("oidc_token"):
            for key in [k for k in headers if k.lower() == "authorization"]:
                del headers[key]
            oidc = pb.oidc_token
            audience = oidc.audience or pb.url
            token = self.issuer.mint(oidc.service_account_email, audience)
            headers["Authorization"] = f"Bearer {token}"
        return headers
