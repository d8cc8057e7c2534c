"""In-memory ``ReconcileStore``: cursors, pending-order pages, stored payments, expiry.

``read_at`` is a copy of the order as read: ``expire`` cancels only an order still equal to
it (the adapter's precondition on the update time).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.adapters.store import outbox as outbox_store
from shared.adapters.store.collections import ORDERS, PAYMENTS
from shared.adapters.store.outbox import OUTBOX
from shared.adapters.store.reconcile_store import STATE
from shared.domain.expiry import EXPIRED_ORDER_KEEP, LIVE
from shared.domain.money import to_decimal
from shared.domain.orders import OrderStatus
from tests.support.fakes.memory import Faults, Memory
from tests.support.fakes.orders import _union
from tests.support.fakes.outbox import stage, track


class FakeReconcileStore(Faults):
    def __init__(self, memory: Memory | None = None) -> None:
        super().__init__()
        self.memory = memory or Memory()

    def cursor(self, name: str) -> dict[str, Any]:
        self._check("cursor")
        return self.memory.read(STATE, name) or {}

    def save_cursor(self, name: str, fields: dict[str, Any]) -> None:
        self._check("save_cursor")
        self.memory.collection(STATE)[name] = copy.deepcopy(fields)

    def _pending(self, threshold: datetime) -> list[dict[str, Any]]:
        return [copy.deepcopy(o) for o in self.memory.collection(ORDERS).values()
                if o.get("status") == OrderStatus.PENDING.value
                and isinstance(o.get("created_at"), datetime) and o["created_at"] <= threshold]

    def live_pending_orders(self, threshold: datetime,
                            limit: int) -> list[tuple[dict[str, Any], Any]]:
        self._check("live_pending_orders")
        live = [o for o in self._pending(threshold)
                if (o.get("last_payment") or {}).get("status") in LIVE]
        live.sort(key=lambda o: o["created_at"], reverse=True)
        return [(o, copy.deepcopy(o)) for o in live[:limit]]

    def pending_orders(self, threshold: datetime, after: Any,
                       limit: int) -> list[tuple[dict[str, Any], Any]]:
        self._check("pending_orders")
        found = sorted((o for o in self._pending(threshold)
                        if after is None or o["created_at"] > after),
                       key=lambda o: o["created_at"])
        return [(o, copy.deepcopy(o)) for o in found[:limit]]

    def stored_payments(self, payment_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self._check("stored_payments")
        payments = self.memory.collection(PAYMENTS)
        return {pid: copy.deepcopy(payments[pid]) for pid in payment_ids if pid in payments}

    def expire(self, order: dict[str, Any], read_at: Any, now: datetime,
               ttl_from_creation: bool) -> bool:
        self._check("expire")
        order_id = str(order["order_id"])
        with self.memory.lock:
            current = self.memory.collection(ORDERS).get(order_id)
            if current is None or current != read_at:
                return False  # changed (or gone) since it was read
            event = outbox_store.new_event(
                "order.cancelled", order_id, str(order.get("last_payment_id") or ""),
                to_decimal(order["amount"]), str(order["currency"]))
            events = self.memory.collection(OUTBOX)
            if event["event_id"] in events:
                return False
            events[event["event_id"]] = stage(self.memory, event, now,
                                              ttl_from_creation=ttl_from_creation)
            current.update({
                "status": OrderStatus.CANCELLED.value, "updated_at": now, "expired_at": now,
                "expires_at": now + EXPIRED_ORDER_KEEP,
                "history": _union(current.get("history"), [{
                    "status": OrderStatus.CANCELLED.value, "at": now, "by": "expiry"}]),
                **track(self.memory, order_id, current, [event["event_id"]])})
            return True
