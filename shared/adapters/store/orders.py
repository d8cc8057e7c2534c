"""Orders, payments and fulfilment markers.

Concurrent fulfil tasks for one order are serialised with optimistic preconditions
(``last_update_time`` on the order, ``create`` on the payment and fulfilment marker), all in
one atomic batch: exactly one writer wins a transition, the others re-read and find nothing
left to do. (Firestore's emulator handles contended transactions badly; preconditions hold.)
"""

from __future__ import annotations

import contextlib
from dataclasses import field
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.mercadopago.status import progress
from shared.adapters.store import outbox
from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.collections import FULFILMENTS, ORDERS, PAYMENTS
from shared.adapters.store.ledger import PROCESSED, Processed
from shared.adapters.store.reads import read, read_all
from shared.adapters.store.writes import RawBatch
from shared.domain.apply_plan import (
    EffectsMode,
    FetchedPayment,
    Writes,
    order_state,
    plan_apply,
    shows_as_last_payment,
)
from shared.domain.money import format_amount, to_decimal
from shared.domain.orders import Anomaly, Decision, OrderStatus
from shared.domain.payments import PaymentProgress
from shared.domain.records import record

ANOMALIES = "anomalies"
FULFILMENT_LEASE_SECONDS = 60
MAX_OPTIMISTIC_TRIES = 8


class Contention(RuntimeError):
    """Too many concurrent writers on one order; the task is retried."""


class OrderNotFound(LookupError):
    pass


@record(frozen=True)
class ApplyResult:
    order_id: str
    before: OrderStatus
    after: OrderStatus
    decision: Decision
    payment_changed: bool
    fulfilment_due: bool  # a fulfilment marker exists and is not done: run the effects
    order: dict[str, Any] = field(default_factory=dict)  # as read before the write
    staged: tuple[dict[str, Any], ...] = ()  # the outbox events the commit created, in order
    processed: bool = False  # the commit wrote the notification's processed record


def fetched_payment(snap: PaymentSnapshot) -> FetchedPayment:
    """Mercado Pago's payment in the project's terms."""
    return FetchedPayment(id=snap.id, order_id=snap.external_reference,
                          progress=progress(snap.status, snap.status_detail,
                                            snap.date_last_updated),
                          amount=snap.amount, currency=snap.currency,
                          refunded_amount=snap.refunded_amount)


def recorded_progress(pay_snap: Any) -> PaymentProgress | None:
    """The payment's stored record as a state, or None when there is none."""
    if not pay_snap.exists:
        return None
    record = pay_snap.to_dict() or {}
    return progress(str(record.get("status") or ""), str(record.get("status_detail", "")),
                    str(record.get("date_last_updated") or ""))


def payment_doc(snap: PaymentSnapshot, now: datetime) -> dict[str, Any]:
    return {
        "payment_id": snap.id,
        "order_id": snap.external_reference,
        "status": snap.status,
        "status_detail": snap.status_detail,
        "amount": format_amount(snap.amount),
        "currency": snap.currency,
        "refunded_amount": format_amount(snap.refunded_amount),
        "payment_method_id": snap.payment_method_id,
        "payment_type_id": snap.payment_type_id,
        "live_mode": snap.live_mode,
        "date_created": snap.date_created,
        "date_last_updated": snap.date_last_updated,
        "updated_at": now,
    }


class OrderRepository:
    def __init__(self, db: firestore.Client, emit_events: bool = False,
                 has_effects: bool = True, defer_effects: bool = False) -> None:
        self._db = db
        # Every transition writes its outbox event, whoever applies it; ``emit_events`` says
        # this process has a shop URL. Without one the event expires from its creation.
        self._emit_events = emit_events
        # defer_effects: a process other than fulfill (mpctl) leaves a fulfilment pending,
        # with no lease, for fulfill to complete (see shared.usecases.handoff).
        self._defer_effects = defer_effects
        self._has_effects = has_effects and not defer_effects  # hooks to run here

    @property
    def db(self) -> firestore.Client:
        return self._db

    def ref(self, order_id: str) -> Any:
        return self._db.collection(ORDERS).document(order_id)

    def get(self, order_id: str) -> dict[str, Any] | None:
        snap = read(self.ref(order_id))
        return snap.to_dict() if snap.exists else None

    def create_draft(self, order: dict[str, Any]) -> bool:
        """Create the order before Mercado Pago is called, so its notifications find it.

        False if it already exists (a resumed request created it earlier).
        """
        try:
            self.ref(order["order_id"]).create(order, retry=RETRY, timeout=CALL_TIMEOUT)
        except gexc.AlreadyExists:
            return False
        return True

    def delete_draft(self, order_id: str) -> None:
        """Remove an order no payment was ever created for (a definite provider refusal)."""
        snap = read(self.ref(order_id))
        if not snap.exists or (snap.to_dict() or {}).get("payment_ids"):
            return
        # If a notification touched it meanwhile, the precondition fails and it is kept.
        with contextlib.suppress(gexc.FailedPrecondition, gexc.NotFound):
            self.ref(order_id).delete(option=self._db.write_option(
                last_update_time=snap.update_time), retry=RETRY, timeout=CALL_TIMEOUT)

    def record_attempt(
        self,
        order_id: str,
        attempt: dict[str, Any],
        now: datetime,
        idempotency: tuple[Any, dict[str, Any]] | None,
    ) -> None:
        """Record a payment attempt on its order and complete the request record, atomically."""
        batch = RawBatch(self._db)
        batch.update(self.ref(order_id), {
            "last_payment_id": attempt["id"],
            "last_payment": attempt,
            "payment_ids": firestore.ArrayUnion([attempt["id"]]),
            "updated_at": now,
        })
        if idempotency is not None:
            batch.update(idempotency[0], idempotency[1])
        batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)

    def record_checkout(
        self, order_id: str, checkout: dict[str, Any], now: datetime,
        idempotency: tuple[Any, dict[str, Any]] | None,
    ) -> None:
        """Record a Checkout Pro preference on its order and complete the request record."""
        batch = RawBatch(self._db)
        batch.update(self.ref(order_id), {"checkout": checkout, "updated_at": now})
        if idempotency is not None:
            batch.update(idempotency[0], idempotency[1])
        batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)

    def effects_mode(self) -> EffectsMode:
        if self._defer_effects:
            return EffectsMode.DEFER
        return EffectsMode.RUN_HERE if self._has_effects else EffectsMode.NONE

    def apply_payment(self, snap: PaymentSnapshot, now: datetime,
                      processed: Processed | None = None) -> ApplyResult:
        """Apply Mercado Pago's canonical payment state to its order, monotonically.

        Reads the order and the payment's record, asks :func:`plan_apply` what to write, and
        writes it in one batch guarded by preconditions; a concurrent writer makes it re-read
        and plan again. The batch lists its events on the order as unsent and carries
        ``processed`` (the notification's record) when given; with nothing to write, nothing
        is written (the caller records the notification)."""
        order_ref = self.ref(snap.external_reference)
        payment_ref = self._db.collection(PAYMENTS).document(snap.id)
        marker_ref = self._db.collection(FULFILMENTS).document(snap.external_reference)
        fetched = fetched_payment(snap)
        for _ in range(MAX_OPTIMISTIC_TRIES):
            # Both documents (two unary reads cost less CPU than one BatchGet: store.reads).
            order_snap, pay_snap = read_all([order_ref, payment_ref])
            if not order_snap.exists:
                raise OrderNotFound(snap.external_reference)
            data = order_snap.to_dict() or {}
            writes = plan_apply(data, recorded_progress(pay_snap), fetched, now,
                                self.effects_mode(), timedelta(seconds=FULFILMENT_LEASE_SECONDS))
            if writes.nothing:
                due = self._has_effects and self._fulfilment_due(marker_ref, now)
                return ApplyResult(snap.external_reference, writes.state.status,
                                   writes.state.status, writes.decision, False, due, data)
            batch = self._batch(writes, snap, now, (order_snap, data), pay_snap)
            if processed is not None:
                batch.set(self._db.collection(PROCESSED).document(processed.notification_id),
                          processed.doc)
            try:
                batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)
            except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.Aborted, gexc.NotFound):
                continue  # someone else wrote first: re-read and decide again
            return ApplyResult(snap.external_reference, writes.state.status, writes.after,
                               writes.decision, writes.newer,
                               writes.decision.fulfil and self._has_effects, data,
                               outbox.staged(writes.events, now, not self._emit_events),
                               processed is not None)
        raise Contention(snap.external_reference)

    def _batch(self, writes: Writes, snap: PaymentSnapshot, now: datetime,
               order_read: tuple[Any, dict[str, Any]], pay_snap: Any) -> Any:
        """The plan as one batch; every write is guarded by what was read (``order_read``: the
        order's snapshot and its data)."""
        order_snap, data = order_read
        batch = RawBatch(self._db)
        order_id = snap.external_reference
        if writes.payment_record:
            payment_ref = self._db.collection(PAYMENTS).document(snap.id)
            if pay_snap.exists:
                batch.update(payment_ref, payment_doc(snap, now), option=self._db.write_option(
                    last_update_time=pay_snap.update_time))
            else:
                batch.create(payment_ref, payment_doc(snap, now))
        for event in writes.events:
            outbox.stage(self._db, batch, event, now, ttl_from_creation=not self._emit_events)
        if writes.marker is not None:
            batch.create(self._db.collection(FULFILMENTS).document(order_id), writes.marker)
        if writes.anomaly is not None:
            doc_id, record = writes.anomaly
            batch.set(self._db.collection(ANOMALIES).document(doc_id), record)
        fields = dict(writes.order_fields)
        if writes.events:
            fields.update(outbox.track(self._db, order_id, data,
                                       [str(e["event_id"]) for e in writes.events]))
        if writes.history is not None:
            fields["history"] = firestore.ArrayUnion([writes.history])
        if writes.keep_order:  # kept for the operator: no TTL deletion
            fields["expires_at"] = firestore.DELETE_FIELD
        if fields:
            batch.update(self.ref(order_id), fields, option=self._db.write_option(
                last_update_time=order_snap.update_time))
        return batch

    def cancel_unpaid(self, order_id: str, now: datetime) -> None:
        """Cancel a pending order that has no live payment (e.g. an unused Checkout Pro link)."""
        snap = read(self.ref(order_id))
        data = snap.to_dict() or {}
        if not snap.exists or data.get("status") != OrderStatus.PENDING.value:
            raise OrderNotFound(order_id)
        event = outbox.new_event("order.cancelled", order_id,
                                 str(data.get("last_payment_id") or ""),
                                 to_decimal(data["amount"]), data["currency"])
        batch = RawBatch(self._db)
        batch.update(self.ref(order_id), {
            "status": OrderStatus.CANCELLED.value, "updated_at": now,
            "history": firestore.ArrayUnion([{"status": OrderStatus.CANCELLED.value, "at": now,
                                              "by": "operator"}]),
            **outbox.track(self._db, order_id, data, [event["event_id"]])},
            option=self._db.write_option(last_update_time=snap.update_time))
        outbox.stage(self._db, batch, event, now, ttl_from_creation=not self._emit_events)
        batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)

    def _fulfilment_due(self, marker_ref: Any, now: datetime) -> bool:
        snap = read(marker_ref)
        if not snap.exists:
            return False
        data = snap.to_dict() or {}
        return data.get("state") != "done" and data.get("lease_until", now) <= now

    def claim_fulfilment(self, order_id: str, now: datetime) -> dict[str, Any] | None:
        """Take the lease on a pending fulfilment whose previous lease ran out."""
        ref = self._db.collection(FULFILMENTS).document(order_id)
        snap = read(ref)
        if not snap.exists:
            return None
        data = snap.to_dict() or {}
        if data.get("state") == "done" or data.get("lease_until", now) > now:
            return None
        try:
            ref.update({"lease_until": now + timedelta(seconds=FULFILMENT_LEASE_SECONDS)},
                       option=self._db.write_option(last_update_time=snap.update_time))
        except (gexc.FailedPrecondition, gexc.NotFound):
            return None
        return data

    def fulfilment(self, order_id: str) -> dict[str, Any] | None:
        snap = read(self._db.collection(FULFILMENTS).document(order_id))
        return snap.to_dict() if snap.exists else None

    def finish_fulfilment(self, order_id: str, now: datetime, effects: list[str]) -> None:
        self._db.collection(FULFILMENTS).document(order_id).update(
            {"state": "done", "done_at": now, "effects": effects},
            retry=RETRY, timeout=CALL_TIMEOUT)

    def remember_attempt_key(self, order_id: str, key: str) -> None:
        """Add a Mercado Pago idempotency key to the order's attempts (a re-payment)."""
        from shared.adapters.store.attempts import remember_attempt

        remember_attempt(self.ref(order_id), key)

    def record_orphan(self, snap: PaymentSnapshot, now: datetime) -> bool:
        """Keep a payment naming an order-id this project does not have; True when new."""
        from shared.adapters.store.anomalies import record_orphan

        return record_orphan(self._db, snap, now)


__all__ = ["Anomaly", "ApplyResult", "Contention", "OrderNotFound", "OrderRepository",
           "order_state", "shows_as_last_payment"]
