"""Enqueueing Cloud Tasks: named HTTP tasks, OIDC tokens, dispatch deadlines.

The client is created once per instance. With ``CLOUD_TASKS_EMULATOR_HOST`` set it talks to a
local gRPC server over an insecure channel; otherwise to Cloud Tasks with the instance's
credentials. ``google.cloud.tasks_v2`` is imported only when a task is first enqueued.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ENQUEUE_TIMEOUT = 10.0


class EnqueueError(RuntimeError):
    """The task could not be created; the caller answers 5xx so its sender retries."""


@dataclass(frozen=True)
class HttpTask:
    queue: str
    task_id: str
    url: str
    body: bytes
    headers: Mapping[str, str]
    oidc_service_account: str = ""
    oidc_audience: str = ""
    dispatch_deadline_seconds: int = 60


def task_id(prefix: str, key: str) -> str:
    """A valid task id (letters, digits, -, _) derived from an arbitrary key."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()}"


class TaskQueue:
    def __init__(self, project: str, location: str, emulator_host: str = "") -> None:
        self._project = project
        self._location = location
        self._emulator_host = emulator_host
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import tasks_v2

                if self._emulator_host:
                    import grpc
                    from google.cloud.tasks_v2.services.cloud_tasks.transports import (
                        CloudTasksGrpcTransport,
                    )

                    channel = grpc.insecure_channel(self._emulator_host)
                    self._client = tasks_v2.CloudTasksClient(
                        transport=CloudTasksGrpcTransport(channel=channel))
                else:
                    self._client = tasks_v2.CloudTasksClient()
            return self._client

    def queue_path(self, queue: str) -> str:
        return f"projects/{self._project}/locations/{self._location}/queues/{queue}"

    def enqueue(self, task: HttpTask) -> bool:
        """Create the task. True if created, False if a task with that name already exists."""
        from google.api_core import exceptions as gexc
        from google.cloud import tasks_v2
        from google.protobuf import duration_pb2

        parent = self.queue_path(task.queue)
        http_request: dict[str, Any] = {
            "http_method": tasks_v2.HttpMethod.POST,
            "url": task.url,
            "headers": dict(task.headers),
            "body": task.body,
        }
        if task.oidc_service_account:
            http_request["oidc_token"] = {
                "service_account_email": task.oidc_service_account,
                "audience": task.oidc_audience or task.url,
            }
        request = {
            "parent": parent,
            "task": {
                "name": f"{parent}/tasks/{task.task_id}",
                "http_request": http_request,
                "dispatch_deadline": duration_pb2.Duration(
                    seconds=task.dispatch_deadline_seconds),
            },
        }
        try:
            self.client().create_task(request=request, timeout=ENQUEUE_TIMEOUT)
        except gexc.AlreadyExists:
            return False
        except Exception as exc:
            raise EnqueueError(f"could not enqueue on {task.queue}: {type(exc).__name__}") from exc
        return True


_queues: dict[tuple[str, str, str], TaskQueue] = {}
_queues_lock = threading.Lock()


def task_queue(project: str, location: str, emulator_host: str = "") -> TaskQueue:
    with _queues_lock:
        key = (project, location, emulator_host)
        if key not in _queues:
            _queues[key] = TaskQueue(project, location, emulator_host)
        return _queues[key]


def reset() -> None:
    """Forget the queues and their clients (``shared.wiring.reset``)."""
    with _queues_lock:
        _queues.clear()
