"""Per-request context shared by the entry points: log binding and error handling."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import flask

from shared.domain.errors import DomainError
from shared.platform import log
from shared.platform.config import ConfigError, settings
from shared.platform.web import ApiError, error_response, json_response


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
    Called by each entry_<function>.py at import, which runs inside functions-framework's
    ``create_app``: there ``functions_framework.errorhandler`` is that app's."""
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
        except DomainError as exc:
            return _error_answer(as_api_error(exc))
        except ApiError as exc:
            return _error_answer(exc)
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


def as_api_error(exc: DomainError) -> ApiError:
    from shared.platform.error_map import api_error

    return api_error(exc)


def _error_answer(exc: ApiError) -> flask.Response:
    if exc.status >= 500:
        log.error("request_failed", exc.message, code=exc.code, status=exc.status)
    return error_response(exc)


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
