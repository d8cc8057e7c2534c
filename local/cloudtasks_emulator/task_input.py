"""Turning a CreateTask request into a TaskRecord, with the service's validation rules.

Rules checked (INVALID_ARGUMENT unless noted): the task name, if given, lies under the
queue and has a valid id; only HTTP tasks are supported (App Engine tasks and OAuth tokens
are UNIMPLEMENTED here); the URL is http(s) and at most 2083 characters; a body only with
POST, PUT or PATCH; ``dispatch_deadline`` within [min, 30 min] (the service's minimum is 15 s;
tests may lower it); ``schedule_time`` at most 30 days ahead; a task of at most 1 MB.

``build_record_pb`` works on the generated protobuf message (``tasks_v2.Task.pb()``), which
CreateTask decodes directly: cheaper than proto-plus, and the rules are the same.
"""

from __future__ import annotations

import time
from typing import Any

import grpc
from google.cloud import tasks_v2

from .errors import ApiError, invalid
from .model import TaskRecord
from .names import InvalidName, new_task_id, split_task_name
from .timeutil import dur_seconds, ts_seconds

DEFAULT_DISPATCH_DEADLINE = 600.0
MAX_DISPATCH_DEADLINE = 1800.0
SERVICE_MIN_DISPATCH_DEADLINE = 15.0
MAX_SCHEDULE_AHEAD = 30 * 24 * 3600.0
MAX_TASK_BYTES = 1024 * 1024
MAX_URL_LENGTH = 2083
_HTTP_REQUEST_PB: Any = tasks_v2.HttpRequest.pb()
_BODY_METHODS = {tasks_v2.HttpMethod.POST, tasks_v2.HttpMethod.PUT, tasks_v2.HttpMethod.PATCH}


def build_record(
    queue_name: str,
    task: tasks_v2.Task,
    min_dispatch_deadline: float = SERVICE_MIN_DISPATCH_DEADLINE,
    now: float | None = None,
) -> TaskRecord:
    """Validate ``task`` for ``queue_name`` and return a new record (not yet stored)."""
    return build_record_pb(queue_name, tasks_v2.Task.pb(task), min_dispatch_deadline, now)


def build_record_pb(
    queue_name: str,
    pb: Any,
    min_dispatch_deadline: float = SERVICE_MIN_DISPATCH_DEADLINE,
    now: float | None = None,
) -> TaskRecord:
    """``build_record`` for a generated ``google.cloud.tasks.v2.Task`` message ``pb``."""
    current = time.time() if now is None else now
    if pb.ByteSize() > MAX_TASK_BYTES:
        raise invalid("Task size exceeds the maximum of 1 MB")
    name = _task_name(queue_name, pb.name)
    kind = pb.WhichOneof("message_type")
    if kind == "app_engine_http_request":
        raise ApiError(grpc.StatusCode.UNIMPLEMENTED, "App Engine tasks are not emulated")
    if kind != "http_request":
        raise invalid("Task.http_request is required")
    request = _HTTP_REQUEST_PB()
    request.CopyFrom(pb.http_request)
    _check_http_request(request)
    schedule = ts_seconds(pb.schedule_time) if pb.HasField("schedule_time") else current
    if schedule > current + MAX_SCHEDULE_AHEAD:
        raise invalid("Task.schedule_time must be at most 30 days in the future")
    deadline = DEFAULT_DISPATCH_DEADLINE
    if pb.HasField("dispatch_deadline"):
        deadline = dur_seconds(pb.dispatch_deadline)
        if not min_dispatch_deadline <= deadline <= MAX_DISPATCH_DEADLINE:
            raise invalid(
                f"Task.dispatch_deadline must be in [{min_dispatch_deadline:g}s, "
                f"{MAX_DISPATCH_DEADLINE:g}s], got {deadline:g}s"
            )
    return TaskRecord(
        name=name,
        queue_name=queue_name,
        http_request=tasks_v2.HttpRequest.wrap(request),
        schedule_time=max(schedule, 0.0),
        create_time=current,
        dispatch_deadline=deadline,
    )


def _task_name(queue_name: str, given: str) -> str:
    if not given:
        return f"{queue_name}/tasks/{new_task_id()}"
    try:
        parent, _ = split_task_name(given)
    except InvalidName as exc:
        raise invalid(str(exc)) from exc
    if parent != queue_name:
        raise invalid(f"Task name {given!r} is not under the parent queue {queue_name!r}")
    return given


def _check_http_request(pb: Any) -> None:
    if not pb.url.startswith(("http://", "https://")):
        raise invalid("HttpRequest.url must start with http:// or https://")
    if len(pb.url) > MAX_URL_LENGTH:
        raise invalid("HttpRequest.url must be at most 2083 characters")
    if pb.http_method == tasks_v2.HttpMethod.HTTP_METHOD_UNSPECIFIED:
        pb.http_method = tasks_v2.HttpMethod.POST
    if pb.body and pb.http_method not in _BODY_METHODS:
        raise invalid("HttpRequest.body is allowed only with POST, PUT or PATCH")
    auth = pb.WhichOneof("authorization_header")
    if auth == "oauth_token":
        raise ApiError(grpc.StatusCode.UNIMPLEMENTED, "oauth_token is not emulated; use oidc_token")
    if auth == "oidc_token" and not pb.oidc_token.service_account_email:
        raise invalid("OidcToken.service_account_email is required")
