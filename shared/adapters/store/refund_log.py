"""``operator_refunds/{sha256(order, amount)}``: the last successful ``mpctl refund`` per
(order, requested amount), so running the same command again within
``REPEAT_WINDOW`` prints the earlier refund instead of refunding twice (``--again`` forces)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.reads import read
from shared.domain.money import format_amount

OPERATOR_REFUNDS = "operator_refunds"
REPEAT_WINDOW = timedelta(minutes=10)
KEEP = timedelta(days=1)


def request_id(order_id: str, amount: Decimal | None) -> str:
    what = "rest" if amount is None else format_amount(amount)
    return hashlib.sha256(f"{order_id}:{what}".encode()).hexdigest()


def recent(db: firestore.Client, order_id: str, amount: Decimal | None,
           now: datetime) -> dict[str, Any] | None:
    """The same request's earlier success, if it happened within the window."""
    snap = read(db.collection(OPERATOR_REFUNDS).document(request_id(order_id, amount)))
    data = snap.to_dict() if snap.exists else None
    if not data or data.get("at") is None or data["at"] <= now - REPEAT_WINDOW:
        return None
    return data


def remember(db: firestore.Client, order_id: str, amount: Decimal | None,
             refund: dict[str, Any], now: datetime) -> None:
    db.collection(OPERATOR_REFUNDS).document(request_id(order_id, amount)).set(
        {**refund, "order_id": order_id,
         "requested": "rest" if amount is None else format_amount(amount),
         "at": now, "expires_at": now + KEEP}, retry=RETRY, timeout=CALL_TIMEOUT)
