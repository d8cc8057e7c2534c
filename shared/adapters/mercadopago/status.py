"""Mapping Mercado Pago payment states to the project's own terms
(``shared.domain.payments``): what a state means for an order, and how far along it is."""

from __future__ import annotations

from shared.domain.payments import PaymentOutcome, PaymentProgress


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


def progress(status: str, status_detail: str = "", updated: str = "") -> PaymentProgress:
    """One Mercado Pago payment state in the project's terms."""
    return PaymentProgress(status=status, status_detail=status_detail,
                           outcome=outcome(status, status_detail), rank=payment_rank(status),
                           updated=updated)


__all__ = ["PaymentOutcome", "outcome", "payment_rank", "progress"]
