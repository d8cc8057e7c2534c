"""Fraud alerts (Mercado Pago's ``stop_delivery_op_wh``): recorded on the order, announced once.

Mercado Pago's guide: on a fraud alert the order must not be delivered and should be
cancelled (the alert is never retried, so ipn_webhook only verifies and queues it). Fulfil
records ``fraud_alert: {received_at, payment_id}`` on the order in one batch with the
``order.fraud_alert`` outbox event (created once per order), logs ``fraud_alert`` at ALERT,
and withholds the shop's hooks while the alert stands. The operator then cancels or refunds
with mpctl, or clears a false alert (``mpctl order clear-fraud-alert``), which lets fulfil run
the withheld hooks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store import outbox
from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.collections import FULFILMENTS, ORDERS
from shared.adapters.store.orders import Contention, OrderNotFound
from shared.adapters.store.reads import read
from shared.adapters.tasks import TaskQueue
from shared.domain.money import to_decimal
from shared.domain.records import record
from shared.platform.config import Settings
from shared.usecases import fulfil_task
from shared.usecases.fulfil_task import FulfilTask

EVENT = "order.fraud_alert"
_TRIES = 8


def withheld(order: dict[str, Any]) -> bool:
    """True while a fraud alert stands on the order: the shop's hooks must not run."""
    return bool(order.get("fraud_alert"))


def public_view(order: dict[str, Any]) -> dict[str, Any] | None:
    alert = order.get("fraud_alert")
    if not isinstance(alert, dict):
        return None
    received = alert.get("received_at")
    return {"received_at": received.isoformat() if isinstance(received, datetime)
            else received}


@record(frozen=True)
class Recorded:
    order_id: str
    new: bool  # False: the order already carried an alert (a second notification)


class FraudAlerts:
    def __init__(self, db: firestore.Client, emit_events: bool = True) -> None:
        self._db = db
        # The event is always written (the shop hears of every alert, whoever records it);
        # ``emit_events`` only says whether this process delivers it (else TTL from creation).
        self._emit_events = emit_events

    def _ref(self, order_id: str) -> Any:
        return self._db.collection(ORDERS).document(order_id)

    def record(self, order_id: str, payment_id: str, now: datetime) -> Recorded:
        """Put the alert on the order (once) with its ``order.fraud_alert`` event."""
        announce = True
        for _ in range(_TRIES):
            snap = read(self._ref(order_id))
            if not snap.exists:
                raise OrderNotFound(order_id)
            data = snap.to_dict() or {}
            if withheld(data):
                return Recorded(order_id, False)
            fields: dict[str, Any] = {
                "fraud_alert": {"received_at": now, "payment_id": payment_id},
                "updated_at": now,
                "history": firestore.ArrayUnion([{"event": "fraud_alert", "at": now,
                                                  "payment_id": payment_id}]),
            }
            batch = self._db.batch()
            if announce and not data.get("fraud_alert_cleared"):
                # once per order: a cleared alert that comes back is recorded quietly
                event = outbox.new_event(EVENT, order_id, payment_id, to_decimal(data["amount"]),
                                         str(data["currency"]))
                outbox.stage(self._db, batch, event, now, ttl_from_creation=not self._emit_events)
                fields.update(outbox.track(self._db, order_id, data, [event["event_id"]]))
            batch.update(self._ref(order_id), fields,
                         option=self._db.write_option(last_update_time=snap.update_time))
            try:
                batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)
            except (gexc.FailedPrecondition, gexc.Aborted):
                continue
            except gexc.AlreadyExists:  # the event exists: announced before
                announce = False
                continue
            return Recorded(order_id, True)
        raise Contention(order_id)

    def clear(self, order_id: str, now: datetime, by: str = "operator") -> dict[str, Any]:
        """Remove a false alert; a withheld fulfilment becomes claimable again at once."""
        snap = read(self._ref(order_id))
        if not snap.exists:
            raise OrderNotFound(order_id)
        data = snap.to_dict() or {}
        alert = data.get("fraud_alert")
        if not alert:
            raise LookupError(f"order {order_id} has no fraud alert")
        batch = self._db.batch()
        batch.update(self._ref(order_id), {
            "fraud_alert": firestore.DELETE_FIELD,
            "fraud_alert_cleared": {**alert, "cleared_at": now, "by": by},
            "updated_at": now,
            "history": firestore.ArrayUnion([{"event": "fraud_alert_cleared", "at": now,
                                              "by": by}]),
        }, option=self._db.write_option(last_update_time=snap.update_time))
        marker_ref = self._db.collection(FULFILMENTS).document(order_id)
        marker = read(marker_ref)
        pending = marker.exists and (marker.to_dict() or {}).get("state") != "done"
        if pending:
            batch.update(marker_ref, {"lease_until": now})
        batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)
        return {"order_id": order_id, "cleared": True, "fulfilment_pending": pending,
                "payment_id": str(data.get("paid_by_payment_id") or "")}


def resume_fulfilment(settings: Settings, queue: TaskQueue, order_id: str, payment_id: str,
                      now: datetime) -> str:
    """Queue a fulfil task for the paying payment, so fulfill runs the withheld hooks."""
    task = FulfilTask.for_cleared_fraud_alert(order_id, payment_id, now)
    fulfil_task.enqueue(settings, queue, task)
    return task.name
