"""reconcile: run by Cloud Scheduler; re-applies what notifications missed.

``POST /`` with an optional JSON body ``{"since_minutes": N}``. Answers the run's report.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import flask

from shared import caller_auth, log, wiring
from shared.http_context import handle
from shared.mercadopago.errors import ProviderError
from shared.reconcile import Reconciler
from shared.secrets import SecretError
from shared.store.client import UNAVAILABLE
from shared.tasks import EnqueueError
from shared.web import ApiError, json_response, method_not_allowed, parse_json_object, read_body

caller_auth.startup_check("reconcile")  # no caller check, no start: the revision never serves


@lru_cache(maxsize=1)
def _reconciler() -> Reconciler:
    return wiring.reconciler()


def _route(request: flask.Request) -> flask.Response:
    if request.method != "POST":
        raise method_not_allowed(["POST"])
    caller_auth.authenticate("reconcile", request.headers, "the scheduler")
    raw = read_body(request, 4096, too_large_status=400)
    since = None
    if raw.strip():
        body = parse_json_object(request, raw, require_json_type=False)
        minutes = body.get("since_minutes") if isinstance(body, dict) else None
        if minutes is not None:
            if not isinstance(minutes, int) or not 1 <= minutes <= 60 * 24 * 30:
                raise ApiError(400, "invalid_request", "since_minutes must be 1..43200")
            since = timedelta(minutes=minutes)
    try:
        report = _reconciler().run(since)
    except (ProviderError, EnqueueError, SecretError, *UNAVAILABLE) as exc:
        log.error("reconcile_failed", "reconcile run failed", error=type(exc).__name__)
        raise ApiError(503, "reconcile_failed", "reconcile could not finish; it resumes "
                       "next run") from exc
    return json_response(report.as_dict())


def reconcile(request: flask.Request) -> flask.Response:
    return handle("reconcile", request, _route)
