"""In-memory task records and their two views: the Task message and the JSON admin view."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from google.cloud import tasks_v2
from google.rpc import code_pb2, status_pb2

from .names import short_id
from .timeutil import duration, iso, timestamp

_TASK_PB: Any = tasks_v2.Task.pb()
_HTTP_TO_RPC = {
    400: code_pb2.INVALID_ARGUMENT,
    401: code_pb2.UNAUTHENTICATED,
    403: code_pb2.PERMISSION_DENIED,
    404: code_pb2.NOT_FOUND,
    409: code_pb2.ABORTED,
    429: code_pb2.RESOURCE_EXHAUSTED,
    499: code_pb2.CANCELLED,
    500: code_pb2.INTERNAL,
    501: code_pb2.UNIMPLEMENTED,
    503: code_pb2.UNAVAILABLE,
    504: code_pb2.DEADLINE_EXCEEDED,
}


@dataclass
class AttemptRecord:
    """One dispatch of a task and what came of it."""

    schedule_time: float
    dispatch_time: float
    retry_count: int
    execution_count: int
    response_time: float | None = None
    status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    next_delay: float | None = None

    def rpc_status(self) -> status_pb2.Status:
        """The attempt's outcome as the google.rpc.Status Cloud Tasks reports."""
        if self.status is not None:
            if 200 <= self.status < 300:
                return status_pb2.Status(code=code_pb2.OK)
            code = _HTTP_TO_RPC.get(self.status, code_pb2.UNKNOWN)
            return status_pb2.Status(code=code, message=f"HTTP status code {self.status}")
        if self.error and "timed out" in self.error:
            return status_pb2.Status(code=code_pb2.DEADLINE_EXCEEDED, message=self.error)
        return status_pb2.Status(code=code_pb2.UNAVAILABLE, message=self.error or "")

    def to_json(self) -> dict[str, Any]:
        """JSON view for ``GET /_emulator/tasks``."""
        return {
            "schedule_time": iso(self.schedule_time),
            "dispatch_time": iso(self.dispatch_time),
            "response_time": iso(self.response_time) if self.response_time else None,
            "status": self.status,
            "error": self.error,
            "retry_count": self.retry_count,
            "execution_count": self.execution_count,
            "retry_after": self.retry_after,
            "next_delay": self.next_delay,
        }


@dataclass
class TaskRecord:
    """A task held by the emulator, with its dispatch bookkeeping."""

    name: str
    queue_name: str
    http_request: tasks_v2.HttpRequest
    schedule_time: float
    create_time: float
    dispatch_deadline: float
    dispatch_count: int = 0
    response_count: int = 0
    in_flight: int = 0
    live: bool = True
    first_dispatch_time: float | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)

    def to_proto(self, view: int) -> tasks_v2.Task:
        """The Task message; the BASIC view leaves out the request body, as the service does."""
        request = tasks_v2.HttpRequest.deserialize(tasks_v2.HttpRequest.serialize(self.http_request))
        full = view == tasks_v2.Task.View.FULL
        if not full:
            request.body = b""
        task = tasks_v2.Task(
            name=self.name,
            http_request=request,
            schedule_time=timestamp(self.schedule_time),
            create_time=timestamp(float(int(self.create_time))),
            dispatch_deadline=duration(self.dispatch_deadline),
            dispatch_count=self.dispatch_count,
            response_count=self.response_count,
            view=tasks_v2.Task.View.FULL if full else tasks_v2.Task.View.BASIC,
        )
        if self.first_dispatch_time is not None:
            task.first_attempt = tasks_v2.Attempt(dispatch_time=timestamp(self.first_dispatch_time))
        if self.attempts:
            last = self.attempts[-1]
            attempt = tasks_v2.Attempt(
                schedule_time=timestamp(last.schedule_time),
                dispatch_time=timestamp(last.dispatch_time),
            )
            if last.response_time is not None:
                attempt.response_time = timestamp(last.response_time)
                attempt.response_status = last.rpc_status()
            task.last_attempt = attempt
        return task

    def to_pb(self, view: int) -> Any:
        """``to_proto`` as the generated ``google.cloud.tasks.v2.Task`` message (CreateTask's
        answer, serialized without going through proto-plus): the same fields, the same bytes."""
        full = view == tasks_v2.Task.View.FULL
        task = _TASK_PB(
            name=self.name,
            schedule_time=timestamp(self.schedule_time),
            create_time=timestamp(float(int(self.create_time))),
            dispatch_deadline=duration(self.dispatch_deadline),
            dispatch_count=self.dispatch_count,
            response_count=self.response_count,
            view=tasks_v2.Task.View.FULL if full else tasks_v2.Task.View.BASIC,
        )
        request = task.http_request
        request.CopyFrom(tasks_v2.HttpRequest.pb(self.http_request))
        if not full:
            request.ClearField("body")
        if self.first_dispatch_time is not None:
            task.first_attempt.dispatch_time.CopyFrom(timestamp(self.first_dispatch_time))
        if self.attempts:
            last = self.attempts[-1]
            attempt = task.last_attempt
            attempt.schedule_time.CopyFrom(timestamp(last.schedule_time))
            attempt.dispatch_time.CopyFrom(timestamp(last.dispatch_time))
            if last.response_time is not None:
                attempt.response_time.CopyFrom(timestamp(last.response_time))
                attempt.response_status.CopyFrom(last.rpc_status())
        return task

    def to_json(self, outcome: str | None = None, finished: float | None = None) -> dict[str, Any]:
        """JSON view for ``GET /_emulator/tasks`` (pending tasks and history entries)."""
        req = self.http_request
        body = bytes(req.body)
        try:
            body_text: str | None = body.decode("utf-8")
        except UnicodeDecodeError:
            body_text = None
        data: dict[str, Any] = {
            "name": self.name,
            "task_id": short_id(self.name),
            "queue": short_id(self.queue_name),
            "queue_name": self.queue_name,
            "method": tasks_v2.HttpMethod(req.http_method or tasks_v2.HttpMethod.POST).name,
            "url": req.url,
            "headers": dict(req.headers),
            "body": body_text,
            "body_base64": base64.b64encode(body).decode("ascii"),
            "oidc_service_account": req.oidc_token.service_account_email or None,
            "create_time": iso(self.create_time),
            "schedule_time": iso(self.schedule_time),
            "dispatch_deadline": self.dispatch_deadline,
            "dispatch_count": self.dispatch_count,
            "response_count": self.response_count,
            "in_flight": self.in_flight,
            "attempts": [a.to_json() for a in self.attempts],
        }
        if outcome is not None:
            data["outcome"] = outcome
            data["finished_time"] = iso(finished) if finished is not None else None
        return data
