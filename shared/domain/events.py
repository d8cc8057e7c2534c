"""Signed merchant events (``order.paid``, ...) sent to the shop's backend.

The event id is derived from (order, event type): the same transition always yields the same
id, so the Cloud Task that carries it (named from the id) is created once, and a shop can
de-duplicate on ``id``. The signature header is ``X-Signature: t=<unix>,v1=<hex>`` with
``v1 = HMAC-SHA256(secret, "<t>.<raw body>")``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from decimal import Decimal

from shared.domain.money import format_amount
from shared.domain.records import record


@record(frozen=True)
class MerchantEvent:
    id: str
    type: str
    order_id: str
    payment_id: str
    amount: Decimal
    currency: str
    created: int
    refunded_amount: Decimal | None = None
    status_detail: str | None = None  # chargeback events: where the dispute stands

    def body(self) -> bytes:
        payload: dict[str, object] = {
            "id": self.id, "type": self.type, "order_id": self.order_id,
            "payment_id": self.payment_id, "amount": format_amount(self.amount),
            "currency": self.currency, "created": self.created,
        }
        if self.refunded_amount is not None:
            payload["refunded_amount"] = format_amount(self.refunded_amount)
        if self.status_detail is not None:
            payload["status_detail"] = self.status_detail
        return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def event_id(event_type: str, order_id: str) -> str:
    return "evt_" + hashlib.sha256(f"{event_type}:{order_id}".encode()).hexdigest()[:32]


def build(event_type: str, order_id: str, payment_id: str, amount: Decimal, currency: str,
          at: datetime) -> MerchantEvent:
    return MerchantEvent(event_id(event_type, order_id), event_type, order_id, payment_id,
                         amount, currency, int(at.timestamp()))


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance_seconds: int, now: float) -> bool:
    """What a shop's backend does with an event (also used by the tests)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        ts = int(parts.get("t", ""))
    except ValueError:
        return False
    if tolerance_seconds and abs(now - ts) > tolerance_seconds:
        return False
    expected = signature(secret, ts, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
