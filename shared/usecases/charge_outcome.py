"""Whether a failed call that creates a payment certainly created nothing.

Only a definite refusal lets create_payment delete its draft order: the request never left
(connection refused, DNS failure, connect timeout), or Mercado Pago answered a 4xx that says
the payment was not created (400 with causes, 401/403, 404). Anything else — a timeout, a
connection reset or closed after the request was sent, any 5xx, 409, 423, 424, 429, a 2xx we
could not read — means the charge may exist: the order stays ``pending`` and the answer is 503
``payment_outcome_unknown`` with its ``order_id``; a retry reuses the same
``X-Idempotency-Key``, so Mercado Pago answers with the same payment.
"""

from __future__ import annotations

from shared.adapters.mercadopago.errors import (
    ProviderAuthFailed,
    ProviderError,
    ProviderRejected,
    ProviderUnavailable,
    ResourceNotFound,
)
from shared.domain.errors import (
    DomainError,
    PaymentOutcomeUnknown,
    PaymentRequestRejected,
    ProviderCredentialsRefused,
    ProviderUnreachable,
)
from shared.platform import log

DEFINITE_REFUSALS = frozenset({401, 403, 404})


def definitely_not_created(exc: ProviderError) -> bool:
    if isinstance(exc, ProviderUnavailable):
        return not exc.sent
    if isinstance(exc, ResourceNotFound):
        return True
    if isinstance(exc, ProviderRejected):
        if exc.status == 400:
            return bool(exc.cause_codes)
        return exc.status in DEFINITE_REFUSALS
    return False


def charge_error(exc: ProviderError) -> DomainError:
    """What a failed payment or preference creation means for the buyer's request."""
    status = exc.status if isinstance(exc, ProviderUnavailable | ProviderRejected) else None
    if not definitely_not_created(exc):
        log.warning("payment_outcome_unknown", "Mercado Pago's answer is unknown; the order "
                    "is kept", provider_status=status, error=type(exc).__name__)
        return PaymentOutcomeUnknown(
            "the payment provider's answer was lost; the charge may exist. Retry with the "
            "same Idempotency-Key (or the same order_id and card token): it is never charged "
            "twice")
    if isinstance(exc, ProviderUnavailable):
        log.warning("provider_unreachable", "Mercado Pago could not be reached")
        return ProviderUnreachable("the payment provider could not be reached; retry")
    if isinstance(exc, ProviderAuthFailed):
        log.error("provider_auth_failed", "Mercado Pago refused our credentials",
                  provider_status=exc.status)
        return ProviderCredentialsRefused("the payment provider refused our credentials")
    assert isinstance(exc, ProviderRejected | ResourceNotFound)
    rejected = exc if isinstance(exc, ProviderRejected) else None
    causes = rejected.cause_codes if rejected else []
    log.info("provider_rejected", "Mercado Pago refused the request",
             provider_status=rejected.status if rejected else 404, causes=causes)
    return PaymentRequestRejected(
        (rejected.reason if rejected else "") or "refused by the payment provider",
        detail={"provider_causes": causes})
