"""fulfill: called by Cloud Tasks only. Applies a payment's canonical state to its order."""

from __future__ import annotations

from functools import lru_cache

import flask

from shared import idtoken, log, wiring
from shared.config import settings
from shared.fulfilment import Attempt, Fulfilment, FulfilTask
from shared.http_context import handle
from shared.web import ApiError, json_response, method_not_allowed, read_body


@lru_cache(maxsize=1)
def _fulfilment() -> Fulfilment:
    return wiring.fulfilment()


def _authenticate(request: flask.Request) -> None:
    s = settings()
    if not s.fulfill_auth_enabled:
        return
    check = idtoken.verify(
        request.headers.get("Authorization"),
        audience=s.fulfill_auth_audience,
        allowed_email=s.fulfill_allowed_service_account,
        certs_url=s.id_token_certs_url,
        issuers=s.id_token_issuers,
    )
    if not check.ok:
        assert check.failure is not None
        log.warning("caller_rejected", "fulfill caller rejected", reason=check.failure.value)
        raise ApiError(check.status, "unauthenticated" if check.status == 401 else "forbidden",
                       "only the fulfil queue may call this function")


def _attempt(request: flask.Request) -> Attempt:
    try:
        retries = int(request.headers.get("X-CloudTasks-TaskRetryCount", "0"))
    except ValueError:
        retries = 0
    return Attempt(number=max(retries, 0) + 1, max_attempts=settings().fulfill_max_attempts)


def _route(request: flask.Request) -> flask.Response:
    if request.method != "POST":
        raise method_not_allowed(["POST"])
    _authenticate(request)
    raw = read_body(request, 16384, too_large_status=400)
    log.bind(task_name=request.headers.get("X-CloudTasks-TaskName", "")[:128])
    attempt = _attempt(request)
    try:
        task = FulfilTask.parse(raw)
    except (ValueError, UnicodeDecodeError):
        outcome = _fulfilment().reject_malformed(raw, attempt)
        return json_response(outcome.body(), outcome.status)
    with log.bound(topic=task.topic, resource_id=task.resource_id,
                   request_id=task.request_id, notification_id=task.notification_id):
        outcome = _fulfilment().handle(task, attempt)
        return json_response(outcome.body(), outcome.status)


def fulfill(request: flask.Request) -> flask.Response:
    return handle("fulfill", request, _route)
