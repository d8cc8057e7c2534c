"""What reconcile reads and writes in Firestore: its cursors (``reconcile_state/{name}``),
pending orders past a threshold, stored payments, and the expiry of an abandoned order.

An order is read with its update time (``read_at``); expiring it is conditional on that time,
so an order that changed since it was read (a payment arrived) is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store import outbox
from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.collections import ORDERS, PAYMENTS
from shared.adapters.store.reads import read, read_all
from shared.domain.expiry import EXPIRED_ORDER_KEEP, LIVE
from shared.domain.money import to_decimal
from shared.domain.orders import OrderStatus

STATE = "reconcile_state"


class ReconcileStore:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def cursor(self, name: str) -> dict[str, Any]:
        snap = read(self._db.collection(STATE).document(name))
        return snap.to_dict() or {}

    def save_cursor(self, name: str, fields: dict[str, Any]) -> None:
        self._db.collection(STATE).document(name).set(fields, retry=RETRY,
                                                      timeout=CALL_TIMEOUT)

    def live_pending_orders(self, threshold: datetime,
                            limit: int) -> list[tuple[dict[str, Any], Any]]:
        """Pending orders created by ``threshold`` whose last recorded attempt is still live,
        newest first, with their update times."""
        query = (self._db.collection(ORDERS)
                 .where(filter=firestore.FieldFilter("status", "==", OrderStatus.PENDING.value))
                 .where(filter=firestore.FieldFilter("last_payment.status", "in", list(LIVE)))
                 .where(filter=firestore.FieldFilter("created_at", "<=", threshold))
                 .order_by("created_at", direction=firestore.Query.DESCENDING).limit(limit))
        return [(d.to_dict() or {}, d.update_time)
                for d in query.stream(retry=RETRY, timeout=CALL_TIMEOUT)]

    def pending_orders(self, threshold: datetime, after: Any,
                       limit: int) -> list[tuple[dict[str, Any], Any]]:
        """Pending orders created by ``threshold``, oldest first, created after ``after``
        (None: from the oldest), with their update times."""
        query = (self._db.collection(ORDERS)
                 .where(filter=firestore.FieldFilter("status", "==", "pending"))
                 .where(filter=firestore.FieldFilter("created_at", "<=", threshold))
                 .order_by("created_at").limit(limit))
        if after is not None:
            query = query.start_after({"created_at": after})
        return [(d.to_dict() or {}, d.update_time)
                for d in query.stream(retry=RETRY, timeout=CALL_TIMEOUT)]

    def stored_payments(self, payment_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The stored records of those payments that have one, in one batched read."""
        if not payment_ids:
            return {}
        refs = [self._db.collection(PAYMENTS).document(pid) for pid in payment_ids]
        return {doc.id: doc.to_dict() or {} for doc in read_all(refs) if doc.exists}

    def expire(self, order: dict[str, Any], read_at: Any, now: datetime,
               ttl_from_creation: bool) -> bool:
        """Cancel the expired order with its ``order.cancelled`` event, unless it changed since
        it was read. True when it was cancelled."""
        order_id = str(order["order_id"])
        ref = self._db.collection(ORDERS).document(order_id)
        event = outbox.new_event("order.cancelled", order_id,
                                 str(order.get("last_payment_id") or ""),
                                 to_decimal(order["amount"]), str(order["currency"]))
        batch = self._db.batch()
        batch.update(ref, {
            "status": OrderStatus.CANCELLED.value, "updated_at": now, "expired_at": now,
            "expires_at": now + EXPIRED_ORDER_KEEP,
            "history": firestore.ArrayUnion([{"status": OrderStatus.CANCELLED.value, "at": now,
                                              "by": "expiry"}]),
            **outbox.track(self._db, order_id, order, [event["event_id"]])},
            option=self._db.write_option(last_update_time=read_at))
        outbox.stage(self._db, batch, event, now, ttl_from_creation=ttl_from_creation)
        try:
            batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)
        except (gexc.FailedPrecondition, gexc.NotFound, gexc.AlreadyExists):
            return False  # it changed meanwhile: the next run looks again
        return True
