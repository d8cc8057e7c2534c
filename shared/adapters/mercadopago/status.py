"""Mapping Mercado Pago payment states to what they mean for an order."""

from __future__ import annotations

from enum import StrEnum


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


def outcome(status: str, status_detail: str = "") -> PaymentOutcome:
    if status == "approved":
        if status_detail == "partially_refunded":
            return PaymentOutcome.PARTIALLY_REFUNDED
        return PaymentOutcome.APPROVED
    if status == "refunded":
        return PaymentOutcome.REFUNDED
    if status == "charged_back":
        return PaymentOutcome.CHARGED_BACK
    if status == "cancelled":
        return PaymentOutcome.CANCELLED
    if status == "rejected":
        return PaymentOutcome.FAILED
    if status == "in_mediation":
        return PaymentOutcome.IN_MEDIATION
    return PaymentOutcome.OPEN


# How far along a single payment is; a fetched state never replaces a further one.
_PAYMENT_RANK = {
    "pending": 0, "in_process": 1, "authorized": 2, "in_mediation": 4,
    "approved": 3, "rejected": 3, "cancelled": 3, "refunded": 5, "charged_back": 5,
}


def payment_rank(status: str) -> int:
    return _PAYMENT_RANK.get(status, 0)
