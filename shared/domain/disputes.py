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

The decision is pure (``shared.domain.chargebacks``): the order store applies it inside its
batch. This module keeps what the order's public view shows of a dispute.
"""

from __future__ import annotations

from typing import Any

from shared.domain.chargebacks import CHARGED_BACK, UPDATED_EVENT, updated_event_key

__all__ = ["CHARGED_BACK", "UPDATED_EVENT", "public_view", "updated_event_key"]


def public_view(order: dict[str, Any]) -> dict[str, Any] | None:
    stored = order.get("chargeback")
    if not isinstance(stored, dict) or not stored.get("status_detail"):
        return None
    return {"status_detail": stored["status_detail"]}
