"""A chargeback's standing on its order: the fields to write and whether it changed (pure).

See ``shared.domain.disputes`` for what the provider's details mean and how they reach the
shop; this is the decision the order store applies inside its batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from shared.domain.payments import PaymentOutcome

CHARGED_BACK = "charged_back"
UPDATED_EVENT = "order.chargeback_updated"


def chargeback_changes(order: Mapping[str, Any], payment_id: str, outcome: PaymentOutcome,
                       status_detail: str, newer: bool,
                       now: datetime) -> tuple[dict[str, Any], bool]:
    """The order fields to write for this payment state, and whether an already charged-back
    order's dispute changed (an ``order.chargeback_updated`` event is due)."""
    if not newer or outcome is not PaymentOutcome.CHARGED_BACK:
        return {}, False
    if order.get("paid_by_payment_id") not in (None, payment_id):
        return {}, False  # another payment's chargeback: not this order's money
    stored = order.get("chargeback") if isinstance(order.get("chargeback"), dict) else {}
    assert isinstance(stored, dict)
    if stored.get("status_detail") == status_detail and stored.get("payment_id") == payment_id:
        return {}, False
    changed = order.get("status") == CHARGED_BACK and bool(stored.get("status_detail"))
    changes = int(stored.get("changes") or 0) + (1 if changed else 0)
    updates = {"chargeback": {"status_detail": status_detail, "payment_id": payment_id,
                              "updated_at": now, "changes": changes}}
    return updates, changed


def updated_event_key(order_id: str, order_updates: Mapping[str, Any]) -> str:
    """What names the n-th ``order.chargeback_updated`` event of an order (stable per change,
    so concurrent writers of the same change create the same outbox document)."""
    return f"{order_id}:chargeback:{order_updates['chargeback']['changes']}"
