"""The order state machine: monotonic, fulfils once, checks money."""

from decimal import Decimal
from itertools import permutations

import pytest

from shared.adapters.mercadopago.status import outcome
from shared.domain.orders import Anomaly, OrderState, OrderStatus, PaymentState, can_move, decide

AMOUNT = Decimal("200.00")


def order(status=OrderStatus.PENDING, paid_by=None, last="p1"):
    return OrderState(status, AMOUNT, "BRL", last_payment_id=last, paid_by_payment_id=paid_by)


def payment(status, detail="", pid="p1", amount=AMOUNT, currency="BRL"):
    return PaymentState(pid, outcome(status, detail), amount, currency)


def test_approved_matching_payment_pays_and_fulfils():
    d = decide(order(), payment("approved", "accredited"))
    assert d.new_status == OrderStatus.PAID and d.fulfil and d.event_type == "order.paid"


@pytest.mark.parametrize("status", ["pending", "in_process", "authorized", "rejected"])
def test_open_or_failed_payment_leaves_order_pending(status):
    d = decide(order(), payment(status))
    assert d.new_status is None and not d.fulfil


@pytest.mark.parametrize(("amount", "currency"), [
    (Decimal("199.99"), "BRL"), (Decimal("200.01"), "BRL"), (AMOUNT, "ARS"), (Decimal("2"), "BRL"),
])
def test_amount_or_currency_mismatch_is_an_anomaly_not_a_payment(amount, currency):
    d = decide(order(), payment("approved", amount=amount, currency=currency))
    assert d.anomaly == Anomaly.AMOUNT_MISMATCH and d.new_status is None and not d.fulfil


def test_amount_compared_as_money_not_text():
    assert decide(order(), payment("approved", amount=Decimal("200"))).fulfil


def test_stale_states_never_regress_a_paid_order():
    paid = order(OrderStatus.PAID, paid_by="p1")
    for status in ["pending", "in_process", "approved", "rejected", "cancelled", "authorized"]:
        d = decide(paid, payment(status))
        assert d.new_status is None and not d.fulfil, status


def test_second_approved_payment_is_flagged_as_duplicate():
    d = decide(order(OrderStatus.PAID, paid_by="p1", last="p2"), payment("approved", pid="p2"))
    assert d.anomaly == Anomaly.DUPLICATE_PAYMENT and not d.fulfil


def test_refund_chargeback_partial_move_forward_only():
    paid = order(OrderStatus.PAID, paid_by="p1")
    assert decide(paid, payment("approved", "partially_refunded")).new_status == \
        OrderStatus.PARTIALLY_REFUNDED
    assert decide(paid, payment("refunded")).new_status == OrderStatus.REFUNDED
    assert decide(paid, payment("charged_back")).new_status == OrderStatus.CHARGED_BACK
    refunded = order(OrderStatus.REFUNDED, paid_by="p1")
    assert decide(refunded, payment("approved", "partially_refunded")).new_status is None
    assert decide(refunded, payment("charged_back")).new_status is None


def test_refund_of_another_payment_does_not_touch_the_order():
    paid = order(OrderStatus.PAID, paid_by="p1")
    assert decide(paid, payment("refunded", pid="p9")).new_status is None


def test_cancelled_last_attempt_cancels_pending_order_only():
    assert decide(order(), payment("cancelled")).new_status == OrderStatus.CANCELLED
    assert decide(order(last="p2"), payment("cancelled")).new_status is None
    assert decide(order(OrderStatus.PAID, paid_by="p1"), payment("cancelled")).new_status is None


def test_approval_after_cancellation_still_pays():
    d = decide(order(OrderStatus.CANCELLED), payment("approved"))
    assert d.new_status == OrderStatus.PAID and d.fulfil


def test_any_delivery_order_ends_in_the_same_state_and_fulfils_once():
    states = [payment("pending"), payment("in_process"), payment("approved", "accredited"),
              payment("approved", "partially_refunded"), payment("refunded")]
    for sequence in permutations(states):
        current = order()
        fulfilments = 0
        for p in sequence:
            d = decide(current, p)
            fulfilments += d.fulfil
            if d.new_status:
                current = OrderState(d.new_status, AMOUNT, "BRL", "p1",
                                     "p1" if d.fulfil else current.paid_by_payment_id)
        assert current.status == OrderStatus.REFUNDED
        assert fulfilments <= 1


def test_can_move_table():
    assert can_move(OrderStatus.PENDING, OrderStatus.PAID)
    assert not can_move(OrderStatus.PAID, OrderStatus.PENDING)
    assert not can_move(OrderStatus.PAID, OrderStatus.CANCELLED)
    assert not can_move(OrderStatus.REFUNDED, OrderStatus.CHARGED_BACK)


def test_each_further_partial_refund_is_a_transition_but_never_backwards():
    partially = OrderState(OrderStatus.PARTIALLY_REFUNDED, AMOUNT, "BRL", "p1", "p1",
                           refunded_amount=Decimal("50.00"))
    part = outcome("approved", "partially_refunded")
    more = PaymentState("p1", part, AMOUNT, "BRL", Decimal("80.00"))
    same = PaymentState("p1", part, AMOUNT, "BRL", Decimal("50.00"))
    less = PaymentState("p1", part, AMOUNT, "BRL", Decimal("20.00"))
    assert decide(partially, more).new_status == OrderStatus.PARTIALLY_REFUNDED
    assert decide(partially, same).new_status is None
    assert decide(partially, less).new_status is None
