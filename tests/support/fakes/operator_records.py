"""In-memory ``OperatorRecords``: recent operator refunds, orphan payments, stored payments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from google.api_core import exceptions as gexc

from shared.adapters.store.anomalies import ANOMALIES
from shared.adapters.store.collections import PAYMENTS
from shared.adapters.store.refund_log import KEEP, OPERATOR_REFUNDS, REPEAT_WINDOW, request_id
from shared.domain.anomalies import orphan_id
from shared.domain.money import format_amount
from tests.support.fakes.memory import Faults, Memory


class FakeOperatorRecords(Faults):
    def __init__(self, memory: Memory | None = None) -> None:
        super().__init__()
        self.memory = memory or Memory()

    def recent_refund(self, order_id: str, amount: Decimal | None,
                      now: datetime) -> dict[str, Any] | None:
        self._check("recent_refund")
        data = self.memory.read(OPERATOR_REFUNDS, request_id(order_id, amount))
        if not data or data.get("at") is None or data["at"] <= now - REPEAT_WINDOW:
            return None
        return data

    def remember_refund(self, order_id: str, amount: Decimal | None, refund: dict[str, Any],
                        now: datetime) -> None:
        self._check("remember_refund")
        self.memory.collection(OPERATOR_REFUNDS)[request_id(order_id, amount)] = {
            **refund, "order_id": order_id,
            "requested": "rest" if amount is None else format_amount(amount),
            "at": now, "expires_at": now + KEEP}

    def orphan(self, payment_id: str) -> dict[str, Any] | None:
        self._check("orphan")
        return self.memory.read(ANOMALIES, orphan_id(payment_id))

    def mark_orphan_refunded(self, payment_id: str, refund: dict[str, Any],
                             now: datetime) -> None:
        self._check("mark_orphan_refunded")
        doc = self.memory.collection(ANOMALIES).get(orphan_id(payment_id))
        if doc is None:
            raise gexc.NotFound(f"{ANOMALIES}/{orphan_id(payment_id)}")  # type: ignore[no-untyped-call]
        doc.update({"resolved": True, "resolution": "refunded", "refund": dict(refund),
                    "resolved_at": now})

    def payment(self, payment_id: str) -> dict[str, Any] | None:
        self._check("payment")
        return self.memory.read(PAYMENTS, payment_id)
