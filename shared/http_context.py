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
