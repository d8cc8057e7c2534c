"""The ``order.*`` events an order's transitions announce, as plain records (no I/O).

The outbox (``shared.adapters.store.outbox``) stages them in the batch of their transition.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.domain.events import event_id
from shared.domain.money import format_amount


def order_event(kind: str, order_id: str, payment_id: str, amount: Decimal, currency: str,
                refunded: Decimal | None = None) -> dict[str, Any]:
    """An ``order.*`` event. Its id is stable per (order, type), and per refunded amount for
    partial refunds (each further partial refund is its own event)."""
    suffix = ""
    if kind == "order.partially_refunded" and refunded is not None:
        suffix = f":{format_amount(refunded)}"
    event: dict[str, Any] = {
        "event_id": event_id(kind, order_id + suffix), "type": kind, "order_id": order_id,
        "payment_id": payment_id, "amount": format_amount(amount), "currency": currency,
    }
    if refunded is not None:
        event["refunded_amount"] = format_amount(refunded)
    return event
