"""fulfill: called by Cloud Tasks only. Applies a payment's canonical state to its order."""

from __future__ import annotations

import flask

from shared import wiring
from shared.adapters import caller_auth
from shared.platform import log
from shared.platform.config import settings
from shared.platform.http_context import handle
from shared.platform.web import json_response, method_not_allowed, read_body
from shared.usecases.fulfil_task import FulfilTask, MalformedTask
from shared.usecases.fulfilment import Attempt, Fulfilment, Handled, Outcome

caller_auth.startup_check("fulfill")  # no caller check, no start: the revision never serves


# Cloud Tasks retries any non-2xx: a finished task answers 200, an unfinished one 503.
STATUS = {Handled.DONE: 200, Handled.RETRY: 503}


def _answer(outcome: Outcome) -> flask.Response:
    return json_response(outcome.body(), STATUS[outcome.handled])


@wiring.per_instance
def _fulfilment() -> Fulfilment:
    return wiring.fulfilment()


# Each worker builds the use case and opens its Firestore and Mercado Pago clients as soon as
# it is forked, before its first request needs them (fulfill's cold start).
wiring.warm_after_fork(_fulfilment, wiring.firestore_connected, wiring.mp_gateway)


def _attempt(request: flask.Request) -> Attempt:
    try:
        retries = int(request.headers.get("X-CloudTasks-TaskRetryCount", "0"))
    except ValueError:
        retries = 0
    return Attempt(number=max(retries, 0) + 1, max_attempts=settings().fulfill_max_attempts)


def _route(request: flask.Request) -> flask.Response:
    if request.method != "POST":
        raise method_not_allowed(["POST"])
    caller_auth.authenticate("fulfill", request.headers, "the fulfil queue")
    raw = read_body(request, 16384, too_large_status=400)
    name = request.headers.get("X-CloudTasks-TaskName", "")[:128]
    log.bind(task_name=name)
    attempt = _attempt(request)
    try:
        task = FulfilTask.decode(raw, name)
    except MalformedTask:
        return _answer(_fulfilment().reject_malformed(raw, attempt))
    with log.bound(topic=task.topic, resource_id=task.resource_id,
                   request_id=task.request_id, notification_id=task.notification_id):
        return _answer(_fulfilment().handle(task, attempt))


def fulfill(request: flask.Request) -> flask.Response:
    return handle("fulfill", request, _route)
