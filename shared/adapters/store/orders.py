"""Orders, payments and fulfilment markers.

Concurrent fulfil tasks for one order are serialised with optimistic preconditions
(``last_update_time`` on the order, ``create`` on the payment and fulfilment marker), all in
one atomic batch: exactly one writer wins a transition, the others re-read and find nothing
left to do. (Firestore's emulator handles contended transactions badly; preconditions hold.)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.mercadopago.status import payment_rank
from shared.adapters.store import outbox
from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.domain import disputes
from shared.domain.events import event_id
from shared.domain.money import format_amount, to_decimal
from shared.domain.orders import Anomaly, Decision, OrderState, OrderStatus, PaymentState, decide

ORDERS = "orders"
PAYMENTS = "payments"
FULFILMENTS = "fulfilments"
ANOMALIES = "anomalies"
FULFILMENT_LEASE_SECONDS = 60
MAX_OPTIMISTIC_TRIES = 8


class Contention(RuntimeError):
    """Too many concurrent writers on one order; the task is retried."""


class OrderNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ApplyResult:
    order_id: str
    before: OrderStatus
    after: OrderStatus
    decision: Decision
    payment_changed: bool
    fulfilment_due: bool  # a fulfilment marker exists and is not done: run the effects
    order: dict[str, Any] = field(default_factory=dict)  # as read before the write


def order_state(data: dict[str, Any]) -> OrderState:
    return OrderState(
        status=OrderStatus(data["status"]),
        amount=to_decimal(data["amount"]),
        currency=str(data["currency"]),
        last_payment_id=data.get("last_payment_id"),
        paid_by_payment_id=data.get("paid_by_payment_id"),
        refunded_amount=to_decimal(data.get("refunded_amount") or "0"),
        expired=data.get("expired_at") is not None,
    )


def _payment_is_newer(previous: dict[str, Any] | None, snap: PaymentSnapshot) -> bool:
    if previous is None:
        return True
    old = (str(previous.get("date_last_updated") or ""), payment_rank(previous.get("status", "")))
    new = (snap.date_last_updated, payment_rank(snap.status))
    if new == old:
        return previous.get("status") != snap.status or previous.get(
            "status_detail") != snap.status_detail
    return new > old


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


def shows_as_last_payment(state: OrderState, payment_id: str) -> bool:
    """The order view's ``last_payment``: the attempt create_payment recorded or, when it
    recorded none (Checkout Pro: the buyer pays on Mercado Pago's page), any payment of the
    order until one pays it, then that one."""
    if state.last_payment_id is not None:
        return payment_id == state.last_payment_id
    return state.paid_by_payment_id in (None, payment_id)


def merchant_event(decision: Decision, order_id: str, snap: PaymentSnapshot,
                   state: OrderState) -> dict[str, Any] | None:
    """The event a transition announces, or None."""
    kind = decision.event_type
    if kind is None:
        return None
    refunded = None
    if kind == "order.partially_refunded":
        refunded = snap.refunded_amount
    elif kind == "order.refunded":
        refunded = snap.refunded_amount or state.amount
    event = outbox.new_event(kind, order_id, snap.id, state.amount, state.currency, refunded)
    if kind == "order.charged_back":
        event["status_detail"] = snap.status_detail
    return event


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
        snap = self.ref(order_id).get(retry=RETRY, timeout=CALL_TIMEOUT)
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
        snap = self.ref(order_id).get(retry=RETRY, timeout=CALL_TIMEOUT)
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
        batch = self._db.batch()
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
        batch = self._db.batch()
        batch.update(self.ref(order_id), {"checkout": checkout, "updated_at": now})
        if idempotency is not None:
            batch.update(idempotency[0], idempotency[1])
        batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)

    def apply_payment(self, snap: PaymentSnapshot, now: datetime) -> ApplyResult:
        """Apply Mercado Pago's canonical payment state to its order, monotonically."""
        order_ref = self.ref(snap.external_reference)
        payment_ref = self._db.collection(PAYMENTS).document(snap.id)
        marker_ref = self._db.collection(FULFILMENTS).document(snap.external_reference)
        for _ in range(MAX_OPTIMISTIC_TRIES):
            # One round trip for both documents.
            found = {s.reference.path: s for s in self._db.get_all(
                [order_ref, payment_ref], retry=RETRY, timeout=CALL_TIMEOUT)}
            order_snap, pay_snap = found[order_ref.path], found[payment_ref.path]
            if not order_snap.exists:
                raise OrderNotFound(snap.external_reference)
            data = order_snap.to_dict() or {}
            state = order_state(data)
            previous = pay_snap.to_dict() if pay_snap.exists else None
            newer = _payment_is_newer(previous, snap)
            if newer:
                status, detail = snap.status, snap.status_detail
            else:  # a stale fetch is judged by the stored, newer payment state instead
                assert previous is not None
                status, detail = str(previous["status"]), str(previous.get("status_detail", ""))
            payment = PaymentState(id=snap.id, status=status, status_detail=detail,
                                   amount=snap.amount, currency=snap.currency,
                                   refunded_amount=snap.refunded_amount)
            decision = decide(state, payment)
            batch = self._db.batch()
            writes = 0
            if newer:
                doc = payment_doc(snap, now)
                if pay_snap.exists:
                    batch.update(payment_ref, doc, option=self._db.write_option(
                        last_update_time=pay_snap.update_time))
                else:
                    batch.create(payment_ref, doc)
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
                update = outbox.new_event(disputes.UPDATED_EVENT, snap.external_reference,
                                          snap.id, state.amount, state.currency)
                update["event_id"] = event_id(disputes.UPDATED_EVENT, disputes.updated_event_key(
                    snap.external_reference, dispute))
                update["status_detail"] = snap.status_detail
                outbox.stage(self._db, batch, update, now,
                             ttl_from_creation=not self._emit_events)
            if decision.new_status is not None:
                order_updates["status"] = decision.new_status.value
                if snap.refunded_amount:
                    order_updates["refunded_amount"] = format_amount(snap.refunded_amount)
                event = merchant_event(decision, snap.external_reference, snap, state)
                if event is not None:
                    outbox.stage(self._db, batch, event, now, ttl_from_creation=not
                                 self._emit_events)
                order_updates["history"] = firestore.ArrayUnion([{
                    "status": decision.new_status.value, "at": now, "payment_id": snap.id,
                    "payment_status": payment.status, "payment_status_detail":
                    payment.status_detail}])
            if decision.fulfil:
                order_updates["paid_at"] = now
                order_updates["paid_by_payment_id"] = snap.id
                batch.create(marker_ref, {
                    "order_id": snap.external_reference, "payment_id": snap.id,
                    "amount": format_amount(snap.amount), "currency": snap.currency,
                    # With no shop hooks there is nothing left to run: done at once.
                    "state": "pending" if self._has_effects or self._defer_effects else "done",
                    "created_at": now, "lease_until": now if self._defer_effects else
                    now + timedelta(seconds=FULFILMENT_LEASE_SECONDS),
                })
            if decision.anomaly is not None:
                batch.set(self._db.collection(ANOMALIES).document(
                    f"{decision.anomaly.value}-{snap.id}"), {
                    "kind": decision.anomaly.value, "order_id": snap.external_reference,
                    "payment_id": snap.id, "payment_amount": format_amount(snap.amount),
                    "payment_currency": snap.currency, "order_amount": format_amount(
                        state.amount), "order_currency": state.currency, "at": now})
                order_updates["review_required"] = decision.anomaly.value
                if state.expired:  # keep the order for the operator: no TTL deletion
                    order_updates["expires_at"] = firestore.DELETE_FIELD
            if order_updates:
                order_updates["updated_at"] = now
                batch.update(order_ref, order_updates, option=self._db.write_option(
                    last_update_time=order_snap.update_time))
                writes += 1
            if writes == 0 and decision.anomaly is None:
                return ApplyResult(snap.external_reference, state.status, state.status,
                                   decision, False, self._has_effects and self._fulfilment_due(
                                       marker_ref, now), data)
            try:
                batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)
            except (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.Aborted, gexc.NotFound):
                continue  # someone else wrote first: re-read and decide again
            after = decision.new_status or state.status
            return ApplyResult(snap.external_reference, state.status, after, decision, newer,
                               decision.fulfil and self._has_effects, data)
        raise Contention(snap.external_reference)

    def cancel_unpaid(self, order_id: str, now: datetime) -> None:
        """Cancel a pending order that has no live payment (e.g. an unused Checkout Pro link)."""
        snap = self.ref(order_id).get(retry=RETRY, timeout=CALL_TIMEOUT)
        data = snap.to_dict() or {}
        if not snap.exists or data.get("status") != OrderStatus.PENDING.value:
            raise OrderNotFound(order_id)
        batch = self._db.batch()
        batch.update(self.ref(order_id), {
            "status": OrderStatus.CANCELLED.value, "updated_at": now,
            "history": firestore.ArrayUnion([{"status": OrderStatus.CANCELLED.value, "at": now,
                                              "by": "operator"}])},
            option=self._db.write_option(last_update_time=snap.update_time))
        outbox.stage(self._db, batch, outbox.new_event(
            "order.cancelled", order_id, str(data.get("last_payment_id") or ""),
            to_decimal(data["amount"]), data["currency"]), now,
            ttl_from_creation=not self._emit_events)
        batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)

    def _fulfilment_due(self, marker_ref: Any, now: datetime) -> bool:
        snap = marker_ref.get(retry=RETRY, timeout=CALL_TIMEOUT)
        if not snap.exists:
            return False
        data = snap.to_dict() or {}
        return data.get("state") != "done" and data.get("lease_until", now) <= now

    def claim_fulfilment(self, order_id: str, now: datetime) -> dict[str, Any] | None:
        """Take the lease on a pending fulfilment whose previous lease ran out."""
        ref = self._db.collection(FULFILMENTS).document(order_id)
        snap = ref.get(retry=RETRY, timeout=CALL_TIMEOUT)
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
        snap = self._db.collection(FULFILMENTS).document(order_id).get(
            retry=RETRY, timeout=CALL_TIMEOUT)
        return snap.to_dict() if snap.exists else None

    def finish_fulfilment(self, order_id: str, now: datetime, effects: list[str]) -> None:
        self._db.collection(FULFILMENTS).document(order_id).update(
            {"state": "done", "done_at": now, "effects": effects},
            retry=RETRY, timeout=CALL_TIMEOUT)


__all__ = ["Anomaly", "ApplyResult", "Contention", "OrderNotFound", "OrderRepository"]
