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
    from shared.platform import jsonsafe

    try:
        return jsonsafe.loads(data)
    except jsonsafe.MalformedJson as exc:
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
        "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key, X-Meli-Session-Id, "
                                        "X-Recaptcha-Token",
        "Access-Control-Expose-Headers": "Idempotent-Replayed",
        "Access-Control-Max-Age": "600",
    }


def client_ip(request: flask.Request, trusted_hops: int) -> str | None:
    """The buyer's IP address as the platform in front of the function saw it.

    Every proxy appends the address it received the connection from to ``X-Forwarded-For``;
    anything to the left of what our own infrastructure appended was written by the client and
    can be forged. ``trusted_hops`` counts the entries our infrastructure appends: Cloud Run
    (its Google Front End) appends exactly one, the connecting client's address, so the
    default ``1`` takes the last entry; behind an external Application Load Balancer it is
    ``2`` (the load balancer appends "<client>, <load balancer>"); ``0`` ignores the header
    (nothing trusted in front, e.g. ``make dev``). When the header has fewer entries than
    that, or the entry is not an IP address, the peer address of the connection is used.
    """
    import ipaddress

    def valid(text: str | None) -> str | None:
        if not text:
            return None
        try:
            return str(ipaddress.ip_address(text.strip()))
        except ValueError:
            return None

    if trusted_hops > 0:
        header = ",".join(request.headers.getlist("X-Forwarded-For"))
        entries = [e.strip() for e in header.split(",") if e.strip()]
        if len(entries) >= trusted_hops:
            found = valid(entries[-trusted_hops])
            if found:
                return found
    return valid(request.remote_addr)
