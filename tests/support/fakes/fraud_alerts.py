"""In-memory ``FraudAlertStore``: the alert on the order, its ``order.fraud_alert`` event once."""

from __future__ import annotations

from datetime import datetime

from shared.adapters.store import outbox as outbox_store
from shared.adapters.store.collections import ORDERS
from shared.adapters.store.orders import OrderNotFound
from shared.adapters.store.outbox import OUTBOX
from shared.domain.money import to_decimal
from shared.usecases.fraud_alerts import EVENT, Recorded, withheld
from tests.support.fakes.memory import Faults, Memory
from tests.support.fakes.orders import _union
from tests.support.fakes.outbox import stage, track


class FakeFraudAlerts(Faults):
    def __init__(self, memory: Memory | None = None, emit_events: bool = True) -> None:
        super().__init__()
        self.memory = memory or Memory()
        self._emit_events = emit_events

    def record(self, order_id: str, payment_id: str, now: datetime) -> Recorded:
        self._check("record")
        order = self.memory.collection(ORDERS).get(order_id)
        if order is None:
            raise OrderNotFound(order_id)
        if withheld(order):
            return Recorded(order_id, False)
        if not order.get("fraud_alert_cleared"):
            event = outbox_store.new_event(EVENT, order_id, payment_id,
                                           to_decimal(order["amount"]), str(order["currency"]))
            events = self.memory.collection(OUTBOX)
            if event["event_id"] not in events:  # announced once per order
                events[event["event_id"]] = stage(self.memory, event, now,
                                                  ttl_from_creation=not self._emit_events)
                order.update(track(self.memory, order_id, order, [event["event_id"]]))
        order.update({"fraud_alert": {"received_at": now, "payment_id": payment_id},
                      "updated_at": now,
                      "history": _union(order.get("history"), [
                          {"event": "fraud_alert", "at": now, "payment_id": payment_id}])})
        return Recorded(order_id, True)
