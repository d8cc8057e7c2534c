"""The Flask app: MP-shaped errors, injected faults, Mercado Pago style authentication."""

from __future__ import annotations

import hmac
import uuid

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import api, control, pages, sdk
from .errors import ApiError, unauthorized
from .faults import FaultRule
from .simulator import Simulator
from .web import EXTENSION, answer, sim

CONTROL_PREFIX = "/_sim/"


def _fault_response(rule: FaultRule) -> Response | None:
    sim().sleep(rule.delay_seconds())
    if rule.status is None:
        return None
    error = ApiError(rule.status, "simulated fault", [("simulated_fault", f"fault {rule.id}")])
    response, status = answer(error.body(), rule.status)
    response.status_code = status
    if rule.status == 429:
        response.headers["Retry-After"] = "1"
    return response


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _check_auth() -> None:
    s = sim()
    if request.path.startswith(pages.PUBLIC_PREFIXES + sdk.PUBLIC_PREFIXES):
        return  # buyer-facing pages and scripts
    header = request.headers.get("Authorization", "")
    bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
    if request.path.startswith("/v1/card_tokens") and "public_key" in request.args:
        # the browser's way (public key); a server may use its access token instead
        if not _same(request.args.get("public_key"), s.config.public_key):
            raise unauthorized("invalid public_key")
        return
    if not _same(bearer, s.config.access_token):
        raise unauthorized("invalid access token")


def _before() -> Response | None:
    if request.path.startswith(CONTROL_PREFIX):
        return None
    if request.method == "OPTIONS" and sdk.is_cors_path(request.path):
        return sdk.preflight()  # a browser's CORS preflight carries no credentials
    rule = sim().faults.take(request.method, request.path, "before")
    if rule is not None:
        response = _fault_response(rule)
        if response is not None:
            return response
    _check_auth()
    return None


def _after(response: Response) -> Response:
    if request.path.startswith(CONTROL_PREFIX):
        return response
    rule = sim().faults.take(request.method, request.path, "after")
    if rule is not None:
        response = _fault_response(rule) or response
    response.headers.setdefault("X-Request-Id", str(uuid.uuid4()))
    if sdk.is_cors_path(request.path) and request.method != "OPTIONS":
        sdk.add_cors(response)
    return response


def _api_error(exc: ApiError) -> tuple[Response, int]:
    return answer(exc.body(), exc.status)


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    return answer(ApiError(status, exc.description or exc.name).body(), status)


def create_app(simulator: Simulator) -> Flask:
    app = Flask("mp_simulator")
    app.extensions[EXTENSION] = simulator
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.before_request(_before)
    app.after_request(_after)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_blueprint(api.bp)
    app.register_blueprint(control.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(sdk.bp)
    return app
