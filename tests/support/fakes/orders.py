"""In-memory ``OrderStore``: the same decisions as ``OrderRepository`` (both write what
``shared.domain.apply_plan.plan_apply`` plans), the same documents, the same errors.

A commit is all-or-nothing like the adapter's batch: it fails, and the apply is tried again,
when a document it creates exists (an outbox event, a payment, a fulfilment marker) or when a
race is lost on purpose (``lose_races(n)``: the next n commits find that another writer came
first). After ``MAX_OPTIMISTIC_TRIES`` lost commits it raises ``Contention``.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.mercadopago.status import progress
from shared.adapters.store import outbox as outbox_store
from shared.adapters.store.anomalies import _payment_fields
from shared.adapters.store.collections import FULFILMENTS, ORDERS, PAYMENTS
from shared.adapters.store.ledger import PROCESSED, Processed
from shared.adapters.store.orders import (
    ANOMALIES,
    FULFILMENT_LEASE_SECONDS,
    MAX_OPTIMISTIC_TRIES,
    ApplyResult,
    Contention,
    OrderNotFound,
    fetched_payment,
    payment_doc,
)
from shared.adapters.store.outbox import OUTBOX
from shared.domain.anomalies import ORPHAN_PAYMENT, orphan_id
from shared.domain.apply_plan import EffectsMode, plan_apply
from shared.domain.money import format_amount, to_decimal
from shared.domain.orders import OrderStatus
from tests.support.fakes.memory import Faults, Memory
from tests.support.fakes.outbox import stage, track

_DELETE = object()


def _union(items: list[Any] | None, new: list[Any]) -> list[Any]:
    """Firestore's ArrayUnion: append what is not already there."""
    out = list(items or [])
    out.extend(x for x in new if x not in out)
    return out


class FakeOrderStore(Faults):
    def __init__(self, memory: Memory | None = None, emit_events: bool = False,
                 has_effects: bool = True, defer_effects: bool = False) -> None:
        super().__init__()
        self.memory = memory or Memory()
        self._emit_events = emit_events
        self._defer_effects = defer_effects
        self._has_effects = has_effects and not defer_effects
        self._lost_races = 0

    def _complete(self, idempotency: tuple[Any, dict[str, Any]]) -> None:
        """The request record's completion, in the same write as the attempt (the adapter's
        batch): ``idempotency[0]`` is what ``FakeIdempotency.ref`` returned."""
        (collection, doc_id), fields = idempotency
        self._update(collection, doc_id, fields)

    def lose_races(self, commits: int) -> None:
        """The next ``commits`` commits of a transition find another writer came first."""
        self._lost_races += commits

    @property
    def _orders(self) -> dict[str, dict[str, Any]]:
        return self.memory.collection(ORDERS)

    def _update(self, collection: str, doc_id: str, fields: dict[str, Any]) -> None:
        doc = self.memory.collection(collection).get(doc_id)
        if doc is None:  # Firestore's update of a missing document
            raise gexc.NotFound(f"{collection}/{doc_id}")  # type: ignore[no-untyped-call]
        for key, value in fields.items():
            if value is _DELETE:
                doc.pop(key, None)
            else:
                doc[key] = value

    # -- reads ---------------------------------------------------------------------------
    def get(self, order_id: str) -> dict[str, Any] | None:
        self._check("get")
        return self.memory.read(ORDERS, order_id)

    def fulfilment(self, order_id: str) -> dict[str, Any] | None:
        self._check("fulfilment")
        return self.memory.read(FULFILMENTS, order_id)

    def payment(self, payment_id: str) -> dict[str, Any] | None:
        return self.memory.read(PAYMENTS, payment_id)

    # -- checkout -------------------------------------------------------------------------
    def create_draft(self, order: dict[str, Any]) -> bool:
        self._check("create_draft")
        if order["order_id"] in self._orders:
            return False
        self._orders[order["order_id"]] = copy.deepcopy(order)
        return True

    def delete_draft(self, order_id: str) -> None:
        self._check("delete_draft")
        found = self._orders.get(order_id)
        if found is None or found.get("payment_ids"):
            return
        del self._orders[order_id]

    def record_attempt(self, order_id: str, attempt: dict[str, Any], now: datetime,
                       idempotency: tuple[Any, dict[str, Any]] | None) -> None:
        self._check("record_attempt")
        order = self._orders.get(order_id)
        if order is None:
            raise gexc.NotFound(f"{ORDERS}/{order_id}")  # type: ignore[no-untyped-call]
        self._update(ORDERS, order_id, {
            "last_payment_id": attempt["id"], "last_payment": dict(attempt),
            "payment_ids": _union(order.get("payment_ids"), [attempt["id"]]), "updated_at": now})
        if idempotency is not None:
            self._complete(idempotency)

    def record_checkout(self, order_id: str, checkout: dict[str, Any], now: datetime,
                        idempotency: tuple[Any, dict[str, Any]] | None) -> None:
        self._check("record_checkout")
        self._update(ORDERS, order_id, {"checkout": dict(checkout), "updated_at": now})
        if idempotency is not None:
            self._complete(idempotency)

    # -- fulfil ---------------------------------------------------------------------------
    def apply_payment(self, snap: PaymentSnapshot, now: datetime,
                      processed: Processed | None = None) -> ApplyResult:
        self._check("apply_payment")
        with self.memory.lock:
            return self._apply_payment(snap, now, processed)

    def _apply_payment(self, snap: PaymentSnapshot, now: datetime,
                       processed: Processed | None) -> ApplyResult:
        order_id = snap.external_reference
        fetched = fetched_payment(snap)
        for _ in range(MAX_OPTIMISTIC_TRIES):
            data = self.memory.read(ORDERS, order_id)
            if data is None:
                raise OrderNotFound(order_id)
            record = self.memory.read(PAYMENTS, snap.id)
            stored = None if record is None else progress(
                str(record.get("status") or ""), str(record.get("status_detail", "")),
                str(record.get("date_last_updated") or ""))
            writes = plan_apply(data, stored, fetched, now, self._effects_mode(),
                                timedelta(seconds=FULFILMENT_LEASE_SECONDS))
            if writes.nothing:
                due = self._has_effects and self._fulfilment_due(order_id, now)
                return ApplyResult(order_id, writes.state.status, writes.state.status,
                                   writes.decision, False, due, data)
            # The commit: all or nothing, like the adapter's batch.
            if self._lost_races > 0:
                self._lost_races -= 1
                continue
            creates = [(OUTBOX, str(e["event_id"])) for e in writes.events]
            if writes.marker is not None:
                creates.append((FULFILMENTS, order_id))
            if writes.payment_record and record is None:
                creates.append((PAYMENTS, snap.id))
            if any(doc_id in self.memory.collection(c) for c, doc_id in creates):
                continue  # AlreadyExists: someone else wrote first
            if writes.payment_record:
                self.memory.collection(PAYMENTS)[snap.id] = payment_doc(snap, now)
            for event in writes.events:
                self.memory.collection(OUTBOX)[str(event["event_id"])] = stage(
                    self.memory, event, now, ttl_from_creation=not self._emit_events)
            if writes.marker is not None:
                self.memory.collection(FULFILMENTS)[order_id] = dict(writes.marker)
            if writes.anomaly is not None:
                doc_id, anomaly = writes.anomaly
                self.memory.collection(ANOMALIES)[doc_id] = dict(anomaly)
            if processed is not None:
                self.memory.collection(PROCESSED)[processed.notification_id] = dict(
                    processed.doc)
            fields: dict[str, Any] = dict(writes.order_fields)
            if writes.events:
                fields.update(track(self.memory, order_id, data,
                                    [str(e["event_id"]) for e in writes.events]))
            if writes.history is not None:
                fields["history"] = _union(data.get("history"), [writes.history])
            if writes.keep_order:
                fields["expires_at"] = _DELETE
            if fields:
                self._update(ORDERS, order_id, fields)
            return ApplyResult(order_id, writes.state.status, writes.after, writes.decision,
                               writes.newer, writes.decision.fulfil and self._has_effects, data,
                               outbox_store.staged(writes.events, now, not self._emit_events),
                               processed is not None)
        raise Contention(order_id)

    def _effects_mode(self) -> EffectsMode:
        if self._defer_effects:
            return EffectsMode.DEFER
        return EffectsMode.RUN_HERE if self._has_effects else EffectsMode.NONE

    def _fulfilment_due(self, order_id: str, now: datetime) -> bool:
        marker = self.memory.read(FULFILMENTS, order_id)
        if marker is None:
            return False
        return bool(marker.get("state") != "done" and marker.get("lease_until", now) <= now)

    def cancel_unpaid(self, order_id: str, now: datetime) -> None:
        self._check("cancel_unpaid")
        data = self.memory.read(ORDERS, order_id)
        if data is None or data.get("status") != OrderStatus.PENDING.value:
            raise OrderNotFound(order_id)
        event = outbox_store.new_event(
            "order.cancelled", order_id, str(data.get("last_payment_id") or ""),
            to_decimal(data["amount"]), data["currency"])
        if event["event_id"] in self.memory.collection(OUTBOX):
            raise gexc.AlreadyExists(f"{OUTBOX}/{event['event_id']} already exists")  # type: ignore[no-untyped-call]
        self.memory.collection(OUTBOX)[event["event_id"]] = stage(
            self.memory, event, now, ttl_from_creation=not self._emit_events)
        self._update(ORDERS, order_id, {
            "status": OrderStatus.CANCELLED.value, "updated_at": now,
            "history": _union(data.get("history"), [{
                "status": OrderStatus.CANCELLED.value, "at": now, "by": "operator"}]),
            **track(self.memory, order_id, data, [event["event_id"]])})

    def claim_fulfilment(self, order_id: str, now: datetime) -> dict[str, Any] | None:
        self._check("claim_fulfilment")
        with self.memory.lock:
            return self._claim_fulfilment(order_id, now)

    def _claim_fulfilment(self, order_id: str, now: datetime) -> dict[str, Any] | None:
        marker = self.memory.read(FULFILMENTS, order_id)
        if marker is None or marker.get("state") == "done" or marker.get(
                "lease_until", now) > now:
            return None
        self._update(FULFILMENTS, order_id, {
            "lease_until": now + timedelta(seconds=FULFILMENT_LEASE_SECONDS)})
        return marker

    def finish_fulfilment(self, order_id: str, now: datetime, effects: list[str]) -> None:
        self._check("finish_fulfilment")
        self._update(FULFILMENTS, order_id, {"state": "done", "done_at": now,
                                             "effects": list(effects)})

    def remember_attempt_key(self, order_id: str, key: str) -> None:
        self._check("remember_attempt_key")
        order = self._orders.get(order_id)
        if order is None:
            raise gexc.NotFound(f"{ORDERS}/{order_id}")  # type: ignore[no-untyped-call]
        order["attempt_keys"] = _union(order.get("attempt_keys"), [key])

    def record_orphan(self, snap: PaymentSnapshot, now: datetime) -> bool:
        self._check("record_orphan")
        anomalies = self.memory.collection(ANOMALIES)
        doc_id = orphan_id(snap.id)
        if doc_id in anomalies:
            anomalies[doc_id].update(_payment_fields(snap, now))
            return False
        anomalies[doc_id] = {
            "kind": ORPHAN_PAYMENT, "payment_id": snap.id,
            "external_reference": snap.external_reference, "order_id": None,
            "payment_amount": format_amount(snap.amount), "payment_currency": snap.currency,
            "payment_method_id": snap.payment_method_id, "live_mode": snap.live_mode,
            "date_created": snap.date_created, "at": now, "resolved": False,
            **_payment_fields(snap, now)}
        return True
