"""Typed failures of calls to Mercado Pago."""

from __future__ import annotations

from typing import Any


class ProviderError(Exception):
    """Base class for every Mercado Pago failure."""


class ProviderUnavailable(ProviderError):
    """Timeout, connection failure, 429 or 5xx: safe to retry with the same idempotency key.

    ``sent`` is False only when the request certainly never reached Mercado Pago (connection
    refused, DNS failure, connect timeout); otherwise a POST may have taken effect.
    """

    def __init__(self, message: str, *, timeout: bool = False, status: int | None = None,
                 sent: bool = True) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.status = status
        self.sent = sent


class ProviderRejected(ProviderError):
    """Mercado Pago refused the request (4xx other than 404/429)."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        super().__init__(f"Mercado Pago answered {status}: {self.reason}")

    @property
    def reason(self) -> str:
        causes = self.body.get("cause") or []
        if isinstance(causes, list) and causes and isinstance(causes[0], dict):
            return str(causes[0].get("description") or causes[0].get("code") or "")
        return str(self.body.get("message") or self.body.get("error") or "")

    @property
    def cause_codes(self) -> list[str]:
        causes = self.body.get("cause") or []
        if not isinstance(causes, list):
            return []
        return [str(c.get("code")) for c in causes if isinstance(c, dict) and c.get("code")]


class ProviderAuthFailed(ProviderRejected):
    """401/403: our access token is wrong or lacks permission (an operator problem)."""


class ResourceNotFound(ProviderError):
    """404: Mercado Pago does not know this resource."""


class MalformedResource(ProviderError):
    """Mercado Pago answered 2xx with a body we cannot read."""
