"""A payment as the order rules see it: what its state means, and how far along it is.

The provider's words (Mercado Pago's ``status`` / ``status_detail``) are mapped to these in
``shared.adapters.mercadopago.status``; the rules here never read the provider's strings,
they only carry them as text to record.
"""

from __future__ import annotations

from enum import StrEnum

from shared.domain.records import record


class PaymentOutcome(StrEnum):
    """What a payment's state means for its order."""

    OPEN = "open"                      # pending, in_process, authorized: nothing settled yet
    FAILED = "failed"                  # rejected: the buyer may try again
    APPROVED = "approved"              # money received
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"
    CANCELLED = "cancelled"            # cancelled or expired before payment
    IN_MEDIATION = "in_mediation"      # a dispute is open; money is held


@record(frozen=True)
class PaymentProgress:
    """One state of one payment: the provider's text (recorded as is), what it means, and its
    rank (a fetched state never replaces a further one)."""

    status: str
    status_detail: str
    outcome: PaymentOutcome
    rank: int
    updated: str = ""  # the provider's last-update time, ISO 8601 text (compares in order)


def is_newer(stored: PaymentProgress | None, fetched: PaymentProgress) -> bool:
    """Whether ``fetched`` replaces the recorded state: later, or further along at the same
    time; the same time and rank with other text counts as newer (a detail changed)."""
    if stored is None:
        return True
    old, new = (stored.updated, stored.rank), (fetched.updated, fetched.rank)
    if new == old:
        return (stored.status, stored.status_detail) != (fetched.status, fetched.status_detail)
    return new > old
