"""Per-request context shared by the entry points: log binding and error handling."""

from __future__ import annotations

import traceback
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
            # A defect: logged with a stack trace Error Reporting groups (no values in it).
            log.error("unhandled_error", f"unexpected failure: {type(exc).__name__}",
                      error=type(exc).__name__, stack_trace=scrubbed_trace(exc),
                      **{"@type": ERROR_EVENT_TYPE})
            return json_response({"error": {"code": "internal", "message": "internal error"}},
                                 500)


ERROR_EVENT_TYPE = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"


def scrubbed_trace(exc: BaseException) -> str:
    """``traceback.format_exception``'s shape (what Error Reporting parses and groups), with
    every exception message withheld: messages can quote request values (payer data, tokens).
    Frames keep file, line, function and source line: code, never data."""
    out: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    chain: list[BaseException] = []
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    for index, item in enumerate(reversed(chain)):
        if index:
            out.append("\nDuring handling of the above exception, another exception occurred:"
                       "\n\n")
        out.append("Traceback (most recent call last):\n")
        out.extend(traceback.StackSummary.extract(
            traceback.walk_tb(item.__traceback__), capture_locals=False).format())
        out.append(f"{type(item).__module__}.{type(item).__qualname__}: (message withheld)\n"
                   if type(item).__module__ != "builtins" else
                   f"{type(item).__qualname__}: (message withheld)\n")
    return "".join(out)


def install_json_not_found() -> None:
    """Paths functions-framework's own routes cannot match (a newline in the path) answer the
    JSON 404 body too, not Flask's HTML page. Call from a function's module: it runs inside
    ``create_app``, where ``functions_framework.errorhandler`` is the app's."""
    import functions_framework

    def not_found(_exc: Exception) -> flask.Response:
        return error_response(ApiError(404, "not_found", "no such endpoint"))

    functions_framework.errorhandler(404)(not_found)
