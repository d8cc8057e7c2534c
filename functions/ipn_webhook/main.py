"""ipn_webhook: receives Mercado Pago notifications, verifies them, queues a fulfil task.

Imports neither Firestore nor the Mercado Pago SDK: it answers in milliseconds.
"""

from __future__ import annotations

import flask

from shared import wiring
from shared.adapters import tasks
from shared.platform import log
from shared.platform.config import revision, settings
from shared.platform.http_context import handle
from shared.platform.web import ApiError, json_response, method_not_allowed, read_body
from shared.usecases.notifications import Intake


@wiring.per_instance
def _intake() -> Intake:
    return wiring.intake()


def _route(request: flask.Request) -> flask.Response:
    if request.path == "/health":
        return health(request)
    if request.method != "POST":
        raise method_not_allowed(["POST"])
    raw = read_body(request, settings().max_body_bytes, too_large_status=400)
    query = {k: v for k, v in request.args.items()}
    headers = {k.lower(): v for k, v in request.headers.items()}
    log.bind(request_id=headers.get("x-request-id", "")[:128],
             resource_id=query.get("data.id", "")[:64], topic=query.get("type", "")[:64])
    return json_response({"status": _intake().receive(query, headers, raw)})


def health(request: flask.Request) -> flask.Response:
    """``GET /health`` for uptime checks (not ``/healthz``: Cloud Run reserves it)."""
    if request.method not in ("GET", "HEAD"):
        raise method_not_allowed(["GET"])
    return json_response({"status": "ok", "revision": revision()})


def ipn_webhook(request: flask.Request) -> flask.Response:
    return handle("ipn_webhook", request, _route)


# The Cloud Tasks client is created on the first request, not at import: functions-framework
# imports this module in gunicorn's master process, which then forks the worker, and a gRPC
# channel must not cross a fork. Its library's modules can: they load here, before the fork
# (every accepted notification enqueues a task).
tasks.load_client_library()

__all__ = ["ApiError", "ipn_webhook"]

