"""Per-request context shared by the entry points: log binding and error handling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import flask

from shared import log
from shared.config import ConfigError, settings
from shared.web import ApiError, error_response, json_response


@contextmanager
def request_logging(request: flask.Request, function: str) -> Iterator[None]:
    project = ""
    with suppress(ConfigError):
        project = settings().project
    fields = log.trace_fields(dict(request.headers.items()), project)
    with log.bound(function=function, **fields):
        yield


_FRAMEWORK_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed",
                    413: "body_too_large"}


def json_framework_errors() -> None:
    """Answer the errors functions-framework raises before our function runs as JSON.

    Its catch-all route ``/<path:path>`` does not match every path (one with a newline in it)
    and ``/robots.txt`` / ``/favicon.ico`` are its own 404s: Flask would answer those with HTML.
    Registered on the framework's app at import (a no-op outside functions-framework)."""
    import functions_framework
    from werkzeug.exceptions import HTTPException

    def answer(exc: HTTPException) -> flask.Response:
        status = exc.code or 500
        code = _FRAMEWORK_CODES.get(status, "invalid_request" if status < 500 else "internal")
        message = "no such endpoint" if status == 404 else (exc.description or exc.name)
        return error_response(ApiError(status, code, message))

    functions_framework.errorhandler(HTTPException)(answer)


def handle(function: str, request: flask.Request,
           route: Callable[[flask.Request], flask.Response]) -> flask.Response:
    """Run ``route`` with logging bound; turn typed errors into JSON answers."""
    with request_logging(request, function):
        try:
            return route(request)
        except ApiError as exc:
            if exc.status >= 500:
                log.error("request_failed", exc.message, code=exc.code, status=exc.status)
            return error_response(exc)
        except ConfigError as exc:
            log.error("config_invalid", str(exc))
            return error_response(ApiError(503, "not_configured", "the function is misconfigured"))
        except Exception as exc:
            log.error("unhandled_error", "unexpected failure", error=type(exc).__name__)
            return json_response({"error": {"code": "internal", "message": "internal error"}},
                                 500)
