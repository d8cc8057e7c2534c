"""Enqueueing Cloud Tasks: named HTTP tasks, OIDC tokens, dispatch deadlines.

The client is created once per instance. With ``CLOUD_TASKS_EMULATOR_HOST`` set it talks to a
local gRPC server over an insecure channel; otherwise to Cloud Tasks with the instance's
credentials. ``google.cloud.tasks_v2`` is imported when a task is first enqueued, or ahead of
that by :func:`load_client_library`: ipn_webhook, whose every accepted notification enqueues,
calls it at import, in gunicorn's master before the fork (modules cross a fork, channels must
not). Imported by the forked worker under its first request instead, the same modules made
ipn_webhook's cold start 27 to 61 ms longer (docs/performance.md).

``CreateTask`` is sent on the client's own channel (its credentials, TLS and endpoint) with the
request built as a protobuf message, not through the generated client's wrapper: that wrapper
(proto-plus marshalling of the request dict, retry/timeout wrapping, a logging interceptor)
cost about 0.4 ms of CPU per task, half of an enqueue, and ipn_webhook enqueues one task per
notification. The wrapper's routing and client headers are sent as it would send them, and
``ALREADY_EXISTS`` still means "that task name exists".
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from typing import Any

from shared.domain.records import record

ENQUEUE_TIMEOUT = 10.0


class EnqueueError(RuntimeError):
    """The task could not be created; the caller answers 5xx so its sender retries."""


@record(frozen=True)
class HttpTask:
    queue: str
    task_id: str
    url: str
    body: bytes
    headers: Mapping[str, str]
    oidc_service_account: str = ""
    oidc_audience: str = ""
    dispatch_deadline_seconds: int = 60


def load_client_library() -> None:
    """Import what the first enqueue needs (no client, no channel: safe before a fork)."""
    import grpc  # noqa: F401
    from google.cloud import tasks_v2  # noqa: F401
    from google.cloud.tasks_v2.services.cloud_tasks.transports import (  # noqa: F401
        CloudTasksGrpcTransport,
    )
    from google.cloud.tasks_v2.types import cloudtasks  # noqa: F401


def task_id(prefix: str, key: str) -> str:
    """A valid task id (letters, digits, -, _) derived from an arbitrary key."""
    return f"{prefix}-{hashlib.sha256(key.encode()).hexdigest()}"


CREATE_TASK = "/google.cloud.tasks.v2.CloudTasks/CreateTask"
_POST = 1  # google.cloud.tasks.v2.HttpMethod.POST


class TaskQueue:
    def __init__(self, project: str, location: str, emulator_host: str = "") -> None:
        self._project = project
        self._location = location
        self._emulator_host = emulator_host
        self._client: Any = None
        self._create: Any = None  # CreateTask on the client's channel: bytes in, bytes out
        self._metadata: dict[str, tuple[tuple[str, str], ...]] = {}  # per queue path
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            return self._client_locked()

    def _client_locked(self) -> Any:
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

    def _create_task(self, parent: str) -> tuple[Any, tuple[tuple[str, str], ...]]:
        """The CreateTask call and its metadata for ``parent`` (built once per instance)."""
        with self._lock:
            if self._create is None:
                client = self._client_locked()
                self._create = client.transport.grpc_channel.unary_unary(CREATE_TASK)
            metadata = self._metadata.get(parent)
            if metadata is None:
                from google.api_core.gapic_v1 import routing_header
                from google.cloud.tasks_v2.services.cloud_tasks.transports.base import (
                    DEFAULT_CLIENT_INFO,
                )

                metadata = self._metadata[parent] = (
                    DEFAULT_CLIENT_INFO.to_grpc_metadata(),  # type: ignore[no-untyped-call]
                    routing_header.to_grpc_metadata(  # type: ignore[no-untyped-call]
                        (("parent", parent),)))
            return self._create, metadata

    def queue_path(self, queue: str) -> str:
        return f"projects/{self._project}/locations/{self._location}/queues/{queue}"

    def enqueue(self, task: HttpTask) -> bool:
        """Create the task. True if created, False if a task with that name already exists."""
        import grpc

        parent = self.queue_path(task.queue)
        try:
            create, metadata = self._create_task(parent)
            create(_create_request(parent, task), timeout=ENQUEUE_TIMEOUT, metadata=metadata)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            if code is grpc.StatusCode.ALREADY_EXISTS:
                return False
            name = code.name if code is not None else type(exc).__name__
            raise EnqueueError(f"could not enqueue on {task.queue}: {name}") from exc
        except Exception as exc:
            raise EnqueueError(f"could not enqueue on {task.queue}: {type(exc).__name__}") from exc
        return True


def _create_request(parent: str, task: HttpTask) -> bytes:
    """The serialized ``CreateTaskRequest`` for ``task`` on queue ``parent``."""
    from google.cloud.tasks_v2.types import cloudtasks

    request = cloudtasks.CreateTaskRequest.pb()()
    request.parent = parent
    created = request.task
    created.name = f"{parent}/tasks/{task.task_id}"
    created.dispatch_deadline.seconds = task.dispatch_deadline_seconds
    http = created.http_request
    http.http_method = _POST
    http.url = task.url
    http.headers.update(task.headers)
    http.body = task.body
    if task.oidc_service_account:
        http.oidc_token.service_account_email = task.oidc_service_account
        http.oidc_token.audience = task.oidc_audience or task.url
    return bytes(request.SerializeToString())


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
