"""What operator actions (mpctl) read and remember in Firestore, behind one object: recent
refunds (``store.refund_log``), orphan payments (``store.anomalies``) and stored payments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from google.cloud import firestore

from shared.adapters.store import anomalies, refund_log
from shared.adapters.store.collections import PAYMENTS
from shared.adapters.store.reads import read


class OperatorRecords:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def recent_refund(self, order_id: str, amount: Decimal | None,
                      now: datetime) -> dict[str, Any] | None:
        return refund_log.recent(self._db, order_id, amount, now)

    def remember_refund(self, order_id: str, amount: Decimal | None, refund: dict[str, Any],
                        now: datetime) -> None:
        refund_log.remember(self._db, order_id, amount, refund, now)

    def orphan(self, payment_id: str) -> dict[str, Any] | None:
        return anomalies.get_orphan(self._db, payment_id)

    def mark_orphan_refunded(self, payment_id: str, refund: dict[str, Any],
                             now: datetime) -> None:
        anomalies.mark_orphan_refunded(self._db, payment_id, refund, now)

    def payment(self, payment_id: str) -> dict[str, Any] | None:
        snap = read(self._db.collection(PAYMENTS).document(payment_id))
        return snap.to_dict() if snap.exists else None
