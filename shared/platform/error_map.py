"""The one table from domain errors (``shared.domain.errors``) to HTTP answers.

The codes are shared by the entry points (``not_configured``, ``storage_unavailable``...), so
one table serves them all: status, stable wire code, fixed extra body fields and a default
``Retry-After``. docs/openapi.yaml and the e2e tests hold the wire side fixed.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from shared.domain import errors as e
from shared.domain.records import record
from shared.platform.web import ApiError


@record(frozen=True)
class Answer:
    status: int
    code: str
    extra: dict[str, Any] = field(default_factory=dict)
    retry_after: int | None = None


_RETRYABLE = {"retryable": True}

TABLE: dict[type[e.DomainError], Answer] = {
    e.InvalidQuantity: Answer(422, "invalid_quantity"),
    e.UnknownProduct: Answer(422, "unknown_product"),
    e.MixedCurrency: Answer(422, "mixed_currency"),
    e.MethodNotAvailable: Answer(422, "method_not_available"),
    e.NoSuchOrder: Answer(404, "order_not_found"),
    e.OrderNotPayable: Answer(409, "order_not_payable"),
    e.IdempotencyKeyReused: Answer(409, "idempotency_key_reused"),
    e.RequestInProgress: Answer(409, "request_in_progress", retry_after=1),
    e.ConcurrentChange: Answer(409, "conflict"),
    e.RateLimited: Answer(429, "rate_limited"),
    e.TooManyAttempts: Answer(429, "too_many_attempts"),
    e.BotCheckFailed: Answer(403, "bot_check_failed"),
    e.BotCheckUnavailable: Answer(503, "bot_check_unavailable", _RETRYABLE, 2),
    e.CallerRejected: Answer(401, "unauthenticated"),
    e.CallerForbidden: Answer(403, "forbidden"),
    e.CallerCheckUnavailable: Answer(503, "caller_check_unavailable", _RETRYABLE),
    e.InvalidSignature: Answer(401, "invalid_signature"),
    e.MalformedJson: Answer(400, "malformed_json"),
    e.MalformedBody: Answer(400, "malformed_body"),
    e.MalformedNotification: Answer(400, "malformed_notification"),
    e.EnqueueFailed: Answer(503, "enqueue_failed", retry_after=5),
    e.NotConfigured: Answer(503, "not_configured"),
    e.StorageUnavailable: Answer(503, "storage_unavailable", _RETRYABLE, 2),
    e.ProviderUnreachable: Answer(503, "provider_unreachable", _RETRYABLE, 2),
    e.ProviderCredentialsRefused: Answer(502, "provider_auth_failed"),
    e.PaymentRequestRejected: Answer(422, "payment_request_rejected"),
    e.PaymentOutcomeUnknown: Answer(503, "payment_outcome_unknown", _RETRYABLE, 2),
    e.ForeignPayment: Answer(502, "provider_error"),
}


def answer_for(error: e.DomainError) -> Answer:
    for cls in type(error).__mro__:
        if cls in TABLE:
            return TABLE[cls]  # type: ignore[index]
    return Answer(500, "internal")


def api_error(error: e.DomainError) -> ApiError:
    """The HTTP answer for ``error``: the table's status and code, its message and facts."""
    answer = answer_for(error)
    extra = dict(answer.extra)
    if error.outcome_unknown:
        extra["outcome_unknown"] = True
    extra.update(error.detail)
    retry_after = error.retry_after if error.retry_after is not None else answer.retry_after
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return ApiError(answer.status, answer.code, error.message, error.fields, headers, extra)
