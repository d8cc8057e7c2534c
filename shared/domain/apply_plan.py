"""What applying one fetched payment state to its order writes: every decision of
``OrderRepository.apply_payment``, as a pure function over plain values.

The repository reads the order and the payment's record, calls :func:`plan_apply` and writes
what the returned :class:`Writes` says, in one atomic batch guarded by preconditions (a
concurrent writer makes it re-read and plan again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.domain import chargebacks
from shared.domain.events import event_id
from shared.domain.money import format_amount, to_decimal
from shared.domain.order_events import order_event
from shared.domain.orders import Decision, OrderState, OrderStatus, PaymentState, decide
from shared.domain.payments import PaymentOutcome, PaymentProgress, is_newer
from shared.domain.records import record

FULFILMENT_LEASE = timedelta(seconds=60)


class EffectsMode(StrEnum):
    """Who runs a fresh fulfilment's effects (the shop's hooks)."""

    RUN_HERE = "run_here"  # this process (fulfill), under a lease taken at once
    DEFER = "defer"        # another process (fulfill, for mpctl): pending, no lease
    NONE = "none"          # no hooks configured: nothing left to run, done at once


@record(frozen=True)
class FetchedPayment:
    """A payment's canonical state as just fetched from the provider."""

    id: str
    order_id: str  # the provider's external_reference
    progress: PaymentProgress
    amount: Decimal
    currency: str
    refunded_amount: Decimal = Decimal("0")


@record(frozen=True)
class Writes:
    """What one application writes. ``order_fields`` are plain values; ``history`` is appended
    to the order's history and ``keep_order`` removes its TTL field (the store spells both)."""

    state: OrderState                 # the order as read
    decision: Decision
    newer: bool                       # the fetched state replaces the payment's record
    order_fields: dict[str, Any] = field(default_factory=dict)
    history: dict[str, Any] | None = None
    keep_order: bool = False
    events: tuple[dict[str, Any], ...] = ()   # outbox events, in staging order
    marker: dict[str, Any] | None = None      # the fulfilment marker to create
    anomaly: tuple[str, dict[str, Any]] | None = None  # (document id, record)

    @property
    def payment_record(self) -> bool:
        """Write the fetched state as the payment's record."""
        return self.newer

    @property
    def nothing(self) -> bool:
        """Nothing to write: the order and the payment's record stay as they are."""
        return not self.newer and not self.order_fields and self.anomaly is None

    @property
    def after(self) -> OrderStatus:
        return self.decision.new_status or self.state.status


def order_state(data: Mapping[str, Any]) -> OrderState:
    return OrderState(
        status=OrderStatus(data["status"]),
        amount=to_decimal(data["amount"]),
        currency=str(data["currency"]),
        last_payment_id=data.get("last_payment_id"),
        paid_by_payment_id=data.get("paid_by_payment_id"),
        refunded_amount=to_decimal(data.get("refunded_amount") or "0"),
        expired=data.get("expired_at") is not None,
    )


def shows_as_last_payment(state: OrderState, payment_id: str) -> bool:
    """The order view's ``last_payment``: the attempt create_payment recorded or, when it
    recorded none (Checkout Pro: the buyer pays on Mercado Pago's page), any payment of the
    order until one pays it, then that one."""
    if state.last_payment_id is not None:
        return payment_id == state.last_payment_id
    return state.paid_by_payment_id in (None, payment_id)


def merchant_event(decision: Decision, fetched: FetchedPayment,
                   state: OrderState) -> dict[str, Any] | None:
    """The event a transition announces, or None."""
    kind = decision.event_type
    if kind is None:
        return None
    refunded = None
    if kind == "order.partially_refunded":
        refunded = fetched.refunded_amount
    elif kind == "order.refunded":
        refunded = fetched.refunded_amount or state.amount
    event = order_event(kind, fetched.order_id, fetched.id, state.amount, state.currency,
                        refunded)
    if kind == "order.charged_back":
        event["status_detail"] = fetched.progress.status_detail
    return event


def judged_state(stored: PaymentProgress | None, fetched: FetchedPayment,
                 newer: bool) -> PaymentProgress:
    """The state the order is judged by: a stale fetch is judged by the stored, newer one."""
    if newer or stored is None:
        return fetched.progress
    return stored


def payment_view_fields(state: OrderState, fetched: FetchedPayment,
                        now: datetime) -> dict[str, Any]:
    """What a newer payment state shows on the order: its last payment, an open dispute."""
    fields: dict[str, Any] = {}
    p = fetched.progress
    if shows_as_last_payment(state, fetched.id):
        fields["last_payment"] = {"id": fetched.id, "status": p.status,
                                  "status_detail": p.status_detail}
    if p.outcome is PaymentOutcome.IN_MEDIATION:
        fields["dispute"] = {"status": "in_mediation", "payment_id": fetched.id, "since": now}
    return fields


def dispute_fields(order: Mapping[str, Any], fetched: FetchedPayment, state: OrderState,
                   newer: bool, now: datetime) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The chargeback fields to write, and the ``order.chargeback_updated`` event when an
    already charged-back order's dispute changed."""
    p = fetched.progress
    fields, changed = chargebacks.chargeback_changes(order, fetched.id, p.outcome,
                                                     p.status_detail, newer, now)
    if not changed:
        return fields, None
    update = order_event(chargebacks.UPDATED_EVENT, fetched.order_id, fetched.id, state.amount,
                         state.currency)
    update["event_id"] = event_id(chargebacks.UPDATED_EVENT, chargebacks.updated_event_key(
        fetched.order_id, fields))
    update["status_detail"] = p.status_detail
    return fields, update


def history_entry(decision: Decision, fetched: FetchedPayment, judged: PaymentProgress,
                  now: datetime) -> dict[str, Any]:
    assert decision.new_status is not None
    return {"status": decision.new_status.value, "at": now, "payment_id": fetched.id,
            "payment_status": judged.status, "payment_status_detail": judged.status_detail}


def fulfilment_marker(fetched: FetchedPayment, now: datetime, mode: EffectsMode,
                      lease: timedelta = FULFILMENT_LEASE) -> dict[str, Any]:
    return {
        "order_id": fetched.order_id, "payment_id": fetched.id,
        "amount": format_amount(fetched.amount), "currency": fetched.currency,
        "state": "done" if mode is EffectsMode.NONE else "pending",
        "created_at": now, "lease_until": now if mode is EffectsMode.DEFER else now + lease,
    }


def anomaly_record(decision: Decision, fetched: FetchedPayment, state: OrderState,
                   now: datetime) -> tuple[str, dict[str, Any]]:
    assert decision.anomaly is not None
    kind = decision.anomaly.value
    return f"{kind}-{fetched.id}", {
        "kind": kind, "order_id": fetched.order_id, "payment_id": fetched.id,
        "payment_amount": format_amount(fetched.amount), "payment_currency": fetched.currency,
        "order_amount": format_amount(state.amount), "order_currency": state.currency,
        "at": now}


def plan_apply(order: Mapping[str, Any], stored: PaymentProgress | None,
               fetched: FetchedPayment, now: datetime,
               mode: EffectsMode = EffectsMode.RUN_HERE,
               lease: timedelta = FULFILMENT_LEASE) -> Writes:
    """What applying ``fetched`` to ``order`` (as stored) writes, given the payment's stored
    record (``stored``, None when there is none): monotonic, fulfils once, checks money."""
    state = order_state(order)
    newer = is_newer(stored, fetched.progress)
    judged = judged_state(stored, fetched, newer)
    decision = decide(state, PaymentState(id=fetched.id, outcome=judged.outcome,
                                          amount=fetched.amount, currency=fetched.currency,
                                          refunded_amount=fetched.refunded_amount))
    fields = payment_view_fields(state, fetched, now) if newer else {}
    dispute, dispute_event = dispute_fields(order, fetched, state, newer, now)
    fields.update(dispute)
    events = [dispute_event] if dispute_event is not None else []
    history = None
    if decision.new_status is not None:
        fields["status"] = decision.new_status.value
        if fetched.refunded_amount:
            fields["refunded_amount"] = format_amount(fetched.refunded_amount)
        event = merchant_event(decision, fetched, state)
        if event is not None:
            events.append(event)
        history = history_entry(decision, fetched, judged, now)
    marker = None
    if decision.fulfil:
        fields.update(paid_at=now, paid_by_payment_id=fetched.id)
        marker = fulfilment_marker(fetched, now, mode, lease)
    anomaly = None
    if decision.anomaly is not None:
        anomaly = anomaly_record(decision, fetched, state, now)
        fields["review_required"] = decision.anomaly.value
    if fields:
        fields["updated_at"] = now
    return Writes(state=state, decision=decision, newer=newer, order_fields=fields,
                  history=history, keep_order=anomaly is not None and state.expired,
                  events=tuple(events), marker=marker, anomaly=anomaly)
