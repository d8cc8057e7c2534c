"""reconcile: run by Cloud Scheduler; re-applies what notifications missed.

``POST /`` with an optional JSON body ``{"since_minutes": N, "new_window": false}``: without
it the run follows the scheduled cursor; with it, it covers (or continues) that window. A run is
bounded by RECONCILE_TIME_BUDGET_SECONDS. Answers the run's report.
"""

from __future__ import annotations

from datetime import timedelta

import flask

from shared import wiring
from shared.adapters import caller_auth
from shared.adapters.mercadopago.errors import ProviderError
from shared.adapters.store.client import UNAVAILABLE
from shared.adapters.tasks import EnqueueError
from shared.platform import log
from shared.platform.http_context import handle
from shared.platform.secrets import SecretError
from shared.platform.web import ApiError, json_response, method_not_allowed, parse_json_object, read_body
from shared.usecases.reconcile import Reconciler

caller_auth.startup_check("reconcile")  # no caller check, no start: the revision never serves


@wiring.per_instance
def _reconciler() -> Reconciler:
    return wiring.reconciler()


def _route(request: flask.Request) -> flask.Response:
    if request.method != "POST":
        raise method_not_allowed(["POST"])
    caller_auth.authenticate("reconcile", request.headers, "the scheduler")
    raw = read_body(request, 4096, too_large_status=400)
    since = None
    new_window = False
    if raw.strip():
        body = parse_json_object(request, raw, require_json_type=False)
        minutes = body.get("since_minutes") if isinstance(body, dict) else None
        if minutes is not None:
            if not isinstance(minutes, int) or not 1 <= minutes <= 60 * 24 * 30:
                raise ApiError(400, "invalid_request", "since_minutes must be 1..43200")
            since = timedelta(minutes=minutes)
        fresh = body.get("new_window", False) if isinstance(body, dict) else False
        if not isinstance(fresh, bool):
            raise ApiError(400, "invalid_request", "new_window must be true or false")
        new_window = fresh
    try:
        report = _reconciler().run(since, new_window=new_window)
    except (ProviderError, EnqueueError, SecretError, *UNAVAILABLE) as exc:
        log.error("reconcile_failed", "reconcile run failed", error=type(exc).__name__)
        raise ApiError(503, "reconcile_failed", "reconcile could not finish; it resumes "
                       "next run") from exc
    return json_response(report.as_dict())


def reconcile(request: flask.Request) -> flask.Response:
    return handle("reconcile", request, _route)
