"""Chargebacks (disputes): the chargeback's ``status_detail`` on the order and its changes.

Mercado Pago keeps a charged-back payment at ``status: charged_back`` and tells where the
dispute stands in ``status_detail``: ``in_process``, ``settled`` or ``reimbursed`` (its
payment reference lists these three; its guides say ``reimbursed`` when the chargeback was
resolved in the seller's favour and the money returned, and give no further wording for
``settled`` or ``in_process``; see docs/contracts.md, "Disputes"). The order keeps the
detail in ``chargeback.status_detail``; the ``order.charged_back`` event carries it, and each
later change sends one ``order.chargeback_updated`` event. The order's status stays
``charged_back`` whatever the detail (states never regress): what a ``reimbursed`` order
means for delivery is the shop's decision.

Pure functions over plain values (no I/O): the order store calls them inside its batch, with
the payment as Mercado Pago reported it (anything with ``id``, ``status``, ``status_detail``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

CHARGED_BACK = "charged_back"
UPDATED_EVENT = "order.chargeback_updated"


class DisputedPayment(Protocol):
    """What a dispute needs of a payment (Mercado Pago's snapshot satisfies it)."""

    @property
    def id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def status_detail(self) -> str: ...


def chargeback_changes(order: dict[str, Any], snap: DisputedPayment, newer: bool,
                       now: datetime) -> tuple[dict[str, Any], bool]:
    """The order fields to write for this payment state, and whether an already charged-back
    order's dispute changed (an ``order.chargeback_updated`` event is due)."""
    if not newer or snap.status != CHARGED_BACK:
        return {}, False
    if order.get("paid_by_payment_id") not in (None, snap.id):
        return {}, False  # another payment's chargeback: not this order's money
    stored = order.get("chargeback") if isinstance(order.get("chargeback"), dict) else {}
    assert isinstance(stored, dict)
    if stored.get("status_detail") == snap.status_detail and stored.get("payment_id") == snap.id:
        return {}, False
    changed = order.get("status") == CHARGED_BACK and bool(stored.get("status_detail"))
    changes = int(stored.get("changes") or 0) + (1 if changed else 0)
    updates = {"chargeback": {"status_detail": snap.status_detail, "payment_id": snap.id,
                              "updated_at": now, "changes": changes}}
    return updates, changed


def updated_event_key(order_id: str, order_updates: dict[str, Any]) -> str:
    """What names the n-th ``order.chargeback_updated`` event of an order (stable per change,
    so concurrent writers of the same change create the same outbox document)."""
    return f"{order_id}:chargeback:{order_updates['chargeback']['changes']}"


def public_view(order: dict[str, Any]) -> dict[str, Any] | None:
    stored = order.get("chargeback")
    if not isinstance(stored, dict) or not stored.get("status_detail"):
        return None
    return {"status_detail": stored["status_detail"]}
