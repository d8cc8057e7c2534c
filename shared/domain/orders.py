"""The order state machine: pure decisions over plain values, no I/O.

An order moves only forward: ``pending`` → ``paid`` → ``partially_refunded`` →
``refunded`` | ``charged_back``; ``cancelled`` only from ``pending`` (and a later approved
payment still makes a cancelled order ``paid``: the money arrived). A stale state of any
payment never moves an order back. An order is fulfilled once, on its first approved payment
whose amount and currency match the order.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from shared.domain.money import same_money
from shared.domain.payments import PaymentOutcome
from shared.domain.records import record


class OrderStatus(StrEnum):
    PENDING = "pending"
    CANCELLED = "cancelled"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"


_RANK = {
    OrderStatus.PENDING: 0,
    OrderStatus.CANCELLED: 1,
    OrderStatus.PAID: 2,
    OrderStatus.PARTIALLY_REFUNDED: 3,
    OrderStatus.REFUNDED: 4,
    OrderStatus.CHARGED_BACK: 4,
}

_AFTER_PAYMENT = {
    PaymentOutcome.PARTIALLY_REFUNDED: OrderStatus.PARTIALLY_REFUNDED,
    PaymentOutcome.REFUNDED: OrderStatus.REFUNDED,
    PaymentOutcome.CHARGED_BACK: OrderStatus.CHARGED_BACK,
}

EVENT_FOR_STATUS = {
    OrderStatus.PAID: "order.paid",
    OrderStatus.PARTIALLY_REFUNDED: "order.partially_refunded",
    OrderStatus.REFUNDED: "order.refunded",
    OrderStatus.CHARGED_BACK: "order.charged_back",
    OrderStatus.CANCELLED: "order.cancelled",
}


class Anomaly(StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    DUPLICATE_PAYMENT = "duplicate_payment"
    PAID_AFTER_EXPIRY = "paid_after_expiry"


@record(frozen=True)
class OrderState:
    status: OrderStatus
    amount: Decimal
    currency: str
    last_payment_id: str | None = None
    paid_by_payment_id: str | None = None
    refunded_amount: Decimal = Decimal("0")
    expired: bool = False  # cancelled by shared.usecases.expiry as abandoned


@record(frozen=True)
class PaymentState:
    """One payment as the order rules judge it: what its state means, and its money."""

    id: str
    outcome: PaymentOutcome
    amount: Decimal
    currency: str
    refunded_amount: Decimal = Decimal("0")


@record(frozen=True)
class Decision:
    """What applying one payment state to an order does."""

    new_status: OrderStatus | None = None
    fulfil: bool = False
    anomaly: Anomaly | None = None

    @property
    def event_type(self) -> str | None:
        return EVENT_FOR_STATUS.get(self.new_status) if self.new_status else None


def can_move(current: OrderStatus, target: OrderStatus) -> bool:
    if target == OrderStatus.CANCELLED:
        return current == OrderStatus.PENDING
    return _RANK[target] > _RANK[current]


def decide(order: OrderState, payment: PaymentState) -> Decision:
    result = payment.outcome
    matches = same_money(payment.amount, payment.currency, order.amount, order.currency)

    if result == PaymentOutcome.APPROVED:
        if order.paid_by_payment_id not in (None, payment.id):
            return Decision(anomaly=Anomaly.DUPLICATE_PAYMENT)
        if order.expired and order.status == OrderStatus.CANCELLED:
            # Money for an order given up as abandoned: an operator honours or refunds it.
            return Decision(anomaly=Anomaly.PAID_AFTER_EXPIRY)
        if not can_move(order.status, OrderStatus.PAID):
            return Decision()
        if not matches:
            return Decision(anomaly=Anomaly.AMOUNT_MISMATCH)
        return Decision(new_status=OrderStatus.PAID, fulfil=True)

    target = _AFTER_PAYMENT.get(result)
    if target is not None:
        # Money moving back counts only for the payment that paid the order (or, when the
        # approval was never seen, for a payment whose amount is the order's).
        if order.paid_by_payment_id is None and not matches:
            return Decision()
        if order.paid_by_payment_id not in (None, payment.id):
            return Decision()
        if can_move(order.status, target):
            return Decision(new_status=target)
        # A further partial refund: same status, more money back, its own event.
        if (target == OrderStatus.PARTIALLY_REFUNDED == order.status
                and payment.refunded_amount > order.refunded_amount):
            return Decision(new_status=target)
        return Decision()

    if result == PaymentOutcome.CANCELLED:
        if payment.id == order.last_payment_id and can_move(order.status, OrderStatus.CANCELLED):
            return Decision(new_status=OrderStatus.CANCELLED)
        return Decision()

    return Decision()  # open, failed (the buyer may try again), in mediation
