"""In-memory ``OrderStore``: the same decisions as ``OrderRepository`` (it calls the same pure
helpers and ``shared.domain.orders.decide``), the same documents, the same errors.

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
from shared.adapters.store import outbox as outbox_store
from shared.adapters.store.anomalies import _payment_fields
from shared.adapters.store.orders import (
    ANOMALIES,
    FULFILMENT_LEASE_SECONDS,
    FULFILMENTS,
    MAX_OPTIMISTIC_TRIES,
    ORDERS,
    PAYMENTS,
    ApplyResult,
    Contention,
    OrderNotFound,
    _payment_is_newer,
    merchant_event,
    order_state,
    payment_doc,
    shows_as_last_payment,
)
from shared.adapters.store.outbox import OUTBOX
from shared.domain.anomalies import ORPHAN_PAYMENT, orphan_id
from shared.domain.events import event_id
from shared.domain.money import format_amount, to_decimal
from shared.domain.orders import OrderStatus, PaymentState, decide
from shared.usecases import disputes
from tests.support.fakes.memory import Faults, Memory
from tests.support.fakes.outbox import stage

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
        self.idempotency_updates: list[tuple[Any, dict[str, Any]]] = []

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
            self.idempotency_updates.append(idempotency)

    def record_checkout(self, order_id: str, checkout: dict[str, Any], now: datetime,
                        idempotency: tuple[Any, dict[str, Any]] | None) -> None:
        self._check("record_checkout")
        self._update(ORDERS, order_id, {"checkout": dict(checkout), "updated_at": now})
        if idempotency is not None:
            self.idempotency_updates.append(idempotency)

    # -- fulfil ---------------------------------------------------------------------------
    def apply_payment(self, snap: PaymentSnapshot, now: datetime) -> ApplyResult:
        self._check("apply_payment")
        with self.memory.lock:
            return self._apply_payment(snap, now)

    def _apply_payment(self, snap: PaymentSnapshot, now: datetime) -> ApplyResult:
        order_id = snap.external_reference
        for _ in range(MAX_OPTIMISTIC_TRIES):
            data = self.memory.read(ORDERS, order_id)
            if data is None:
                raise OrderNotFound(order_id)
            state = order_state(data)
            previous = self.memory.read(PAYMENTS, snap.id)
            newer = _payment_is_newer(previous, snap)
            if newer:
                status, detail = snap.status, snap.status_detail
            else:
                assert previous is not None
                status, detail = str(previous["status"]), str(previous.get("status_detail", ""))
            payment = PaymentState(id=snap.id, status=status, status_detail=detail,
                                   amount=snap.amount, currency=snap.currency,
                                   refunded_amount=snap.refunded_amount)
            decision = decide(state, payment)
            creates: list[tuple[str, str, dict[str, Any]]] = []
            sets: list[tuple[str, str, dict[str, Any]]] = []
            payment_update: dict[str, Any] | None = None
            writes = 0
            if newer:
                if previous is not None:
                    payment_update = payment_doc(snap, now)
                else:
                    creates.append((PAYMENTS, snap.id, payment_doc(snap, now)))
                writes += 1
            order_updates: dict[str, Any] = {}
            if newer and shows_as_last_payment(state, snap.id):
                order_updates["last_payment"] = {
                    "id": snap.id, "status": snap.status, "status_detail": snap.status_detail}
            if newer and snap.status == "in_mediation":
                order_updates["dispute"] = {"status": "in_mediation", "payment_id": snap.id,
                                            "since": now}
            dispute, dispute_changed = disputes.chargeback_changes(data, snap, newer, now)
            order_updates.update(dispute)
            if dispute_changed:
                update = outbox_store.new_event(disputes.UPDATED_EVENT, order_id, snap.id,
                                                state.amount, state.currency)
                update["event_id"] = event_id(disputes.UPDATED_EVENT, disputes.updated_event_key(
                    order_id, dispute))
                update["status_detail"] = snap.status_detail
                creates.append((OUTBOX, update["event_id"], stage(
                    self.memory, update, now, ttl_from_creation=not self._emit_events)))
            if decision.new_status is not None:
                order_updates["status"] = decision.new_status.value
                if snap.refunded_amount:
                    order_updates["refunded_amount"] = format_amount(snap.refunded_amount)
                event = merchant_event(decision, order_id, snap, state)
                if event is not None:
                    creates.append((OUTBOX, event["event_id"], stage(
                        self.memory, event, now, ttl_from_creation=not self._emit_events)))
                order_updates["history"] = _union(data.get("history"), [{
                    "status": decision.new_status.value, "at": now, "payment_id": snap.id,
                    "payment_status": payment.status, "payment_status_detail":
                    payment.status_detail}])
            if decision.fulfil:
                order_updates["paid_at"] = now
                order_updates["paid_by_payment_id"] = snap.id
                creates.append((FULFILMENTS, order_id, {
                    "order_id": order_id, "payment_id": snap.id,
                    "amount": format_amount(snap.amount), "currency": snap.currency,
                    "state": "pending" if self._has_effects or self._defer_effects else "done",
                    "created_at": now, "lease_until": now if self._defer_effects else
                    now + timedelta(seconds=FULFILMENT_LEASE_SECONDS)}))
            if decision.anomaly is not None:
                sets.append((ANOMALIES, f"{decision.anomaly.value}-{snap.id}", {
                    "kind": decision.anomaly.value, "order_id": order_id,
                    "payment_id": snap.id, "payment_amount": format_amount(snap.amount),
                    "payment_currency": snap.currency, "order_amount": format_amount(
                        state.amount), "order_currency": state.currency, "at": now}))
                order_updates["review_required"] = decision.anomaly.value
                if state.expired:
                    order_updates["expires_at"] = _DELETE
            if order_updates:
                order_updates["updated_at"] = now
                writes += 1
            if writes == 0 and decision.anomaly is None:
                return ApplyResult(order_id, state.status, state.status, decision, False,
                                   self._has_effects and self._fulfilment_due(order_id, now),
                                   data)
            # The commit: all or nothing.
            if self._lost_races > 0:
                self._lost_races -= 1
                continue
            if any(doc_id in self.memory.collection(c) for c, doc_id, _ in creates):
                continue  # AlreadyExists: someone else wrote first
            for collection, doc_id, doc in creates:
                self.memory.collection(collection)[doc_id] = doc
            for collection, doc_id, doc in sets:
                self.memory.collection(collection)[doc_id] = doc
            if payment_update is not None:
                self._update(PAYMENTS, snap.id, payment_update)
            if order_updates:
                self._update(ORDERS, order_id, order_updates)
            after = decision.new_status or state.status
            return ApplyResult(order_id, state.status, after, decision, newer,
                               decision.fulfil and self._has_effects, data)
        raise Contention(order_id)

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
                "status": OrderStatus.CANCELLED.value, "at": now, "by": "operator"}])})

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
