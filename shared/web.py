"""What every HTTP entry point shares: JSON errors, body limits, JSON parsing, CORS."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import flask


class ApiError(Exception):
    """An answer with a stable error code: ``{"error": {"code", "message", "fields"?}}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        error.update(self.extra)
        return {"error": error}


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> flask.Response:
    response = flask.Response(
        json.dumps(body, separators=(",", ":"), default=str),
        status=status,
        mimetype="application/json",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(error: ApiError) -> flask.Response:
    return json_response(error.body(), error.status, error.headers)


def method_not_allowed(allowed: Iterable[str]) -> ApiError:
    allow = ", ".join(allowed)
    return ApiError(405, "method_not_allowed", f"use {allow}", headers={"Allow": allow})


def read_body(request: flask.Request, limit: int, too_large_status: int = 413) -> bytes:
    """The raw body, refusing anything over ``limit`` bytes without reading it all."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise ApiError(too_large_status, "body_too_large", f"body exceeds {limit} bytes")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(too_large_status, "body_too_large", f"body exceeds {limit} bytes")
    return data


def parse_json_object(request: flask.Request, data: bytes, require_json_type: bool = True) -> Any:
    """Parse a JSON body; 415 when it is declared as something else, 400 when malformed."""
    if require_json_type and request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send Content-Type: application/json")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from exc


def cors_headers(request: flask.Request, allowed_origins: tuple[str, ...]) -> dict[str, str]:
    """CORS headers for an allow-listed origin; none for any other origin."""
    origin = request.headers.get("Origin", "")
    if not origin or origin.rstrip("/") not in allowed_origins:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Vary": "Origin",
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key, X-Recaptcha-Token",
        "Access-Control-Expose-Headers": "Idempotent-Replayed",
        "Access-Control-Max-Age": "600",
    }


def client_ip(request: flask.Request, trusted_hops: int = 1) -> str:
    """The buyer's address, as the trusted proxies in front of the function saw it.

    Each proxy appends the address it received the connection from to ``X-Forwarded-For``;
    entries to the left of those are whatever the client sent and are never trusted. Cloud Run's
    front end is one hop: the last entry is the client (``trusted_hops=1``, the default). Behind
    the external Application Load Balancer the header ends ``<client>, <load balancer>``, so
    the client is the second entry from the right (``trusted_hops=2``). Without the header
    (a local run without a front end), the peer address.
    """
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if forwarded:
        return forwarded[max(0, len(forwarded) - trusted_hops)]
    return request.remote_addr or "unknown"
