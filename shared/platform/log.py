"""Structured logs: one JSON object per line in Cloud Logging's format.

Every line carries ``severity``, ``message`` and ``event`` (a stable name that log-based
metrics count), the request's trace (from ``traceparent`` or ``X-Cloud-Trace-Context``) and
the context fields bound for the request (request id, topic, order and payment ids).
Fields that could hold payer or card data are dropped here, whatever the caller passes.
"""

from __future__ import annotations

import contextvars
import json
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from shared.platform.config import log_level

# Keys never written to a log line, at any depth.
_FORBIDDEN_KEYS = frozenset(
    {
        "email", "payer", "identification", "token", "card_number", "security_code",
        "cardholder", "card", "access_token", "secret", "authorization", "password",
        "expiration_month", "expiration_year", "number", "body",
    }
)
_LEVELS = {"DEBUG": 10, "INFO": 20, "NOTICE": 25, "WARNING": 30, "ERROR": 40, "CRITICAL": 50,
           "ALERT": 60}
_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "log_context", default=_EMPTY
)
_write_lock = threading.Lock()
_stream: Any = None  # None: sys.stdout (Cloud Run collects it); tools may redirect


def use_stream(stream: Any) -> None:
    """Send log lines elsewhere (the operator CLI keeps stdout for its own output)."""
    global _stream
    _stream = stream


def _threshold() -> int:
    return _LEVELS.get(log_level(), 20)


def scrub(value: Any) -> Any:
    """Drop forbidden keys from mappings, recursively."""
    if isinstance(value, Mapping):
        return {k: scrub(v) for k, v in value.items() if str(k).lower() not in _FORBIDDEN_KEYS}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def trace_fields(headers: Mapping[str, str], project: str) -> dict[str, str]:
    """Cloud Logging trace fields from W3C ``traceparent`` or ``X-Cloud-Trace-Context``."""
    trace_id = span_id = ""
    sampled = False
    parent = headers.get("traceparent", "")
    parts = parent.split("-")
    if len(parts) == 4 and len(parts[1]) == 32:
        trace_id, span_id, sampled = parts[1], parts[2], parts[3].endswith("1")
    else:
        legacy = headers.get("X-Cloud-Trace-Context", "")
        if legacy:
            trace_part, _, rest = legacy.partition("/")
            trace_id = trace_part
            span_id, _, options = rest.partition(";")
            sampled = options == "o=1"
    if not trace_id or not project:
        return {}
    out = {"logging.googleapis.com/trace": f"projects/{project}/traces/{trace_id}",
           "logging.googleapis.com/trace_sampled": str(sampled).lower()}
    if span_id:
        out["logging.googleapis.com/spanId"] = span_id
    return out


@contextmanager
def bound(**fields: Any) -> Iterator[None]:
    """Add fields to every line logged inside the block (per request or task)."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add fields to the current context (for ids learnt mid-request)."""
    _context.set({**_context.get(), **{k: v for k, v in fields.items() if v}})


def emit(severity: str, event: str, message: str = "", **fields: Any) -> None:
    if _LEVELS.get(severity, 20) < _threshold():
        return
    record: dict[str, Any] = {
        "severity": severity,
        "message": message or event,
        "event": event,
        "time": datetime.now(UTC).isoformat(),
    }
    record.update(scrub(dict(_context.get())))
    record.update(scrub(fields))
    line = json.dumps(record, default=str, separators=(",", ":"))
    stream = _stream or sys.stdout
    with _write_lock:
        stream.write(line + "\n")
        stream.flush()


def debug(event: str, message: str = "", **fields: Any) -> None:
    emit("DEBUG", event, message, **fields)


def info(event: str, message: str = "", **fields: Any) -> None:
    emit("INFO", event, message, **fields)


def warning(event: str, message: str = "", **fields: Any) -> None:
    emit("WARNING", event, message, **fields)


def error(event: str, message: str = "", **fields: Any) -> None:
    emit("ERROR", event, message, **fields)


def alert(event: str, message: str = "", **fields: Any) -> None:
    emit("ALERT", event, message, **fields)
