"""The refusals and failures use cases raise, in the project's own terms (no HTTP here).

Each entry point answers them through one table (``shared.platform.error_map``) that gives
every class its HTTP status and stable wire code. An error carries what the answer needs to
say: a message, the offending ``fields``, ``detail`` (extra facts such as the order id), a
``retry_after`` hint in seconds, and whether the charge's outcome is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class DomainError(Exception):
    """A use case's refusal or failure; the entry point's table says how to answer it."""

    outcome_unknown = False  # the charge may exist: the order is kept

    def __init__(
        self,
        message: str,
        fields: list[dict[str, str]] | None = None,
        *,
        detail: Mapping[str, Any] | None = None,
        retry_after: int | None = None,
        outcome_unknown: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        self.detail = dict(detail or {})
        self.retry_after = retry_after
        if outcome_unknown is not None:
            self.outcome_unknown = outcome_unknown


# -- the request ----------------------------------------------------------------------
class InvalidQuantity(DomainError):
    """A line's quantity is out of range."""


class UnknownProduct(DomainError):
    """A product is unknown or inactive."""


class MixedCurrency(DomainError):
    """The products are priced in different currencies."""


class MethodNotAvailable(DomainError):
    """The payment method is not offered for this currency or country."""


class NoSuchOrder(DomainError):
    """The order does not exist."""


class OrderNotPayable(DomainError):
    """The order is not waiting for a payment."""


class IdempotencyKeyReused(DomainError):
    """The idempotency key was used with another request body."""


class RequestInProgress(DomainError):
    """A request with this idempotency key is still running."""


class ConcurrentChange(DomainError):
    """The order changed while the request ran; a retry may succeed."""


# -- limits and checks -------------------------------------------------------------------
class RateLimited(DomainError):
    """A windowed attempt limit is full."""


class TooManyAttempts(DomainError):
    """The order's attempt cap is reached."""


class BotCheckFailed(DomainError):
    """The request did not pass the bot check."""


class BotCheckUnavailable(DomainError):
    """The bot check is not answering."""


class CallerRejected(DomainError):
    """The caller presented no valid identity."""


class CallerForbidden(DomainError):
    """The caller's identity is not the one allowed."""


class CallerCheckUnavailable(DomainError):
    """The caller's identity cannot be checked now."""


# -- notifications ---------------------------------------------------------------------
class InvalidSignature(DomainError):
    """A notification's signature is not valid."""


class MalformedJson(DomainError):
    """The body is not valid JSON."""


class MalformedBody(DomainError):
    """The body is JSON, but not an object."""


class MalformedNotification(DomainError):
    """The notification lacks what names its resource."""


class EnqueueFailed(DomainError):
    """A task could not be queued."""


# -- the platform and the provider ---------------------------------------------------------
class NotConfigured(DomainError):
    """A setting or secret the request needs is missing."""


class StorageUnavailable(DomainError):
    """The order store is not answering."""


class ProviderUnreachable(DomainError):
    """The payment provider could not be reached; nothing was sent."""


class ProviderCredentialsRefused(DomainError):
    """The payment provider refused our credentials."""


class PaymentRequestRejected(DomainError):
    """The payment provider refused the request: nothing was charged."""


class PaymentOutcomeUnknown(DomainError):
    """The payment provider's answer was lost: the charge may exist."""

    outcome_unknown = True


class ForeignPayment(DomainError):
    """The payment provider answered with a payment of another order."""
