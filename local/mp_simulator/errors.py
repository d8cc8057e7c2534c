"""Mercado Pago shaped API errors: ``{"message", "error", "status", "cause": [...]}``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


@dataclass(eq=False)
class ApiError(Exception):
    status: int
    message: str
    causes: list[tuple[int | str, str]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "error": _ERROR_NAMES.get(self.status, "error"),
            "status": self.status,
            "cause": [{"code": code, "description": text} for code, text in self.causes],
        }


def bad_request(message: str, code: int | str | None = None) -> ApiError:
    return ApiError(400, message, [(code, message)] if code is not None else [])


def not_found(message: str, code: int | str | None = None) -> ApiError:
    return ApiError(404, message, [(code, message)] if code is not None else [])


def unauthorized(message: str = "invalid access token") -> ApiError:
    return ApiError(401, message, [("unauthorized", message)])
