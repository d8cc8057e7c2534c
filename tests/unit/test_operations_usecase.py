"""Operations (mpctl's refunds and cancellations), every branch, on in-memory fakes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from shared.adapters.mercadopago.errors import ProviderRejected, ProviderUnavailable
from shared.usecases.fulfilment import Attempt, Fulfilment, FulfilTask
from shared.usecases.operations import OperationError, Operations, refund_key
from tests.support.fakes.world import ORDER, World, settings


@pytest.fixture
def world() -> World:
    w = World()
    w.store(defer_effects=True)  # mpctl's process: fulfilments are left for fulfill
    return w


def operations(world: World, **changes: object) -> Operations:
    ful = Fulfilment(settings(**changes), world.orders, world.ledger, world.gateway_factory(),
                     world.queue_factory(), clock=world.clock, outbox=world.outbox,
                     alerts=world.alerts, handoff=True)
    return Operations(world.orders, ful, world.gateway_factory(), world.records,
                      clock=world.clock)


def paid_order(world: World, amount: str = "200.00", method: str = "master") -> str:
    world.order(amount=amount)
    pid = world.pay(amount=amount, payment_method_id=method)
    Fulfilment(settings(), world.orders, world.ledger, world.gateway_factory(),
               world.queue_factory(), clock=world.clock, outbox=world.outbox).sync_payment(
        pid, Attempt(1, 1), FulfilTask("payment", pid, ""))
    assert world.orders.get(ORDER)["status"] == "paid"
    return pid


def code_of(call: object) -> str:
    with pytest.raises(OperationError) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


# -- refunds --------------------------------------------------------------------------------
def test_a_full_refund_is_made_and_the_order_follows_at_once(world):
    pid = paid_order(world)
    result = operations(world).refund(ORDER, None)
    assert result.detail["refund_status"] == "approved" and result.detail["amount"] == "200.00"
    assert result.detail["order_status"] == "refunded"
    assert world.orders.get(ORDER)["status"] == "refunded"
    [(refunded, amount, key, render)] = world.gateway.refund_calls
    assert (refunded, amount, render) == (pid, None, False)
    assert key == refund_key(pid, None, Decimal("0"))
    # mpctl hands the order.refunded event to fulfill in one named task
    assert [t["topic"] for t in world.fulfil_tasks()] == ["order_handoff"]


def test_the_same_refund_run_twice_within_ten_minutes_refunds_once(world):
    paid_order(world)
    ops = operations(world)
    first = ops.refund(ORDER, Decimal("50"))
    world.clock.advance(minutes=5)
    again = ops.refund(ORDER, Decimal("50"))
    assert again.detail["repeated"] is True
    assert again.detail["refund_id"] == first.detail["refund_id"]
    assert len(world.gateway.refund_calls) == 1


def test_a_deliberate_second_partial_refund_gets_its_own_key(world):
    pid = paid_order(world)
    ops = operations(world)
    ops.refund(ORDER, Decimal("50"))
    second = ops.refund(ORDER, Decimal("50"), again=True)
    assert second.detail["refund_id"] and second.detail["order_status"] == "partially_refunded"
    keys = [call[2] for call in world.gateway.refund_calls]
    assert keys == [refund_key(pid, Decimal("50.00"), Decimal("0")),
                    refund_key(pid, Decimal("50.00"), Decimal("50.00"))]
    assert world.gateway.get_payment(pid).refunded_amount == Decimal("100.00")


def test_the_repeat_window_closes_after_ten_minutes(world):
    paid_order(world)
    ops = operations(world)
    ops.refund(ORDER, Decimal("50"))
    world.clock.advance(minutes=11)
    assert "repeated" not in ops.refund(ORDER, Decimal("50")).detail
    assert len(world.gateway.refund_calls) == 2


def test_a_refund_of_an_unknown_order(world):
    assert code_of(lambda: operations(world).refund("ord_nope", None)) == "order_not_found"


def test_an_unpaid_order_is_not_refundable(world):
    world.order()
    assert code_of(lambda: operations(world).refund(ORDER, None)) == "not_refundable"
    assert world.gateway.refund_calls == []


@pytest.mark.parametrize("amount", ["0", "-1", "200.01"])
def test_a_refund_amount_outside_what_remains_is_refused_here(world, amount):
    paid_order(world)
    assert code_of(lambda: operations(world).refund(ORDER, Decimal(amount))) == "invalid_amount"
    assert world.gateway.refund_calls == []


def test_a_refund_mercado_pago_refuses_names_its_cause(world):
    paid_order(world)
    world.gateway.fail_next("refund", ProviderRejected(400, {"cause": [
        {"code": "2024", "description": "too old"}]}))
    assert code_of(lambda: operations(world).refund(ORDER, None)) == "refund_period_expired"
    assert world.records.recent_refund(ORDER, None, world.clock.now) is None


def test_an_unknown_refund_outcome_is_reported_and_the_same_key_is_used_again(world):
    paid_order(world)
    world.gateway.fail_next("refund", ProviderUnavailable("timeout", timeout=True))
    ops = operations(world)
    assert code_of(lambda: ops.refund(ORDER, None)) == "provider_unavailable"
    assert world.orders.get(ORDER)["status"] == "paid"  # nothing compensated, nothing assumed
    ops.refund(ORDER, None)
    keys = {call[2] for call in world.gateway.refund_calls}
    assert len(world.gateway.refund_calls) == 2 and len(keys) == 1


def test_a_pix_refund_held_in_contingency_is_pending_not_refused(world):
    pid = paid_order(world, method="pix")
    world.gateway.hold_refunds = True
    result = operations(world).refund(ORDER, None)
    assert result.detail["refund_status"] == "in_process" and "note" in result.detail
    assert world.gateway.refund_calls[0][3] is True  # asked to render it in process
    assert world.orders.get(ORDER)["status"] == "paid"  # follows when Mercado Pago confirms
    assert world.gateway.get_payment(pid).status == "approved"


# -- orphan payments -----------------------------------------------------------------------
def test_an_approved_orphan_payment_is_refunded_and_resolved(world):
    snap = world.gateway.add_payment("ord_gone00000000000000000001", Decimal("30.00"))
    world.orders.record_orphan(snap, world.clock.now)
    result = operations(world).refund_payment(snap.id)
    assert result.order_id == "ord_gone00000000000000000001"
    assert result.detail["refund_status"] == "approved"
    assert world.records.orphan(snap.id)["resolution"] == "refunded"


def test_a_payment_that_is_not_a_recorded_orphan_is_not_refunded_this_way(world):
    pid = paid_order(world)
    assert code_of(lambda: operations(world).refund_payment(pid)) == "not_an_orphan"


def test_an_orphan_that_is_not_approved_is_not_refundable(world):
    snap = world.gateway.add_payment("ord_gone00000000000000000001", Decimal("30.00"),
                                     "rejected", "cc_rejected_other_reason")
    world.orders.record_orphan(snap, world.clock.now)
    assert code_of(lambda: operations(world).refund_payment(snap.id)) == "not_refundable"


def test_an_orphan_refund_while_mercado_pago_is_down(world):
    snap = world.gateway.add_payment("ord_gone00000000000000000001", Decimal("30.00"))
    world.orders.record_orphan(snap, world.clock.now)
    world.gateway.fail_next("get_payment", ProviderUnavailable("down", status=503))
    assert code_of(lambda: operations(world).refund_payment(snap.id)) == "provider_unavailable"
    assert world.records.orphan(snap.id)["resolved"] is False


# -- cancellations --------------------------------------------------------------------------
def test_an_order_whose_payment_is_in_process_is_cancelled_at_mercado_pago(world):
    world.order()
    pid = world.pay(status="in_process", detail="pending_contingency")
    world.orders.record_attempt(ORDER, {"id": pid, "status": "in_process"}, world.clock.now,
                                None)
    result = operations(world).cancel(ORDER)
    assert result.detail["payment_id"] == pid
    assert world.gateway.get_payment(pid).status == "cancelled"
    assert world.orders.get(ORDER)["status"] == "cancelled"


def test_a_cancellation_mercado_pago_refuses(world):
    world.order()
    pid = world.pay(status="in_process", detail="pending_contingency")
    world.orders.record_attempt(ORDER, {"id": pid, "status": "in_process"}, world.clock.now,
                                None)
    world.gateway.fail_next("cancel", ProviderRejected(400, {"message": "cannot cancel"}))
    assert code_of(lambda: operations(world).cancel(ORDER)) == "cancel_refused"
    world.gateway.fail_next("cancel", ProviderUnavailable("down"))
    assert code_of(lambda: operations(world).cancel(ORDER)) == "provider_unavailable"
    assert world.orders.get(ORDER)["status"] == "pending"


def test_an_order_without_a_live_payment_is_cancelled_here_and_handed_over(world):
    world.order()
    world.orders.record_attempt(ORDER, {"id": "1", "status": "rejected"}, world.clock.now, None)
    result = operations(world).cancel(ORDER)
    assert result.detail == {"order_status": "cancelled"}
    assert [e["type"] for e in world.outbox.pending(ORDER)] == ["order.cancelled"]
    assert [t["topic"] for t in world.fulfil_tasks()] == ["order_handoff"]


def test_an_order_whose_payment_went_through_is_refunded_not_cancelled(world):
    world.order()
    world.orders.record_attempt(ORDER, {"id": "1", "status": "approved"}, world.clock.now, None)
    assert code_of(lambda: operations(world).cancel(ORDER)) == "not_cancellable"
    assert world.gateway.refund_calls == [] and world.orders.get(ORDER)["status"] == "pending"


def test_only_a_pending_order_is_cancelled(world):
    paid_order(world)
    assert code_of(lambda: operations(world).cancel(ORDER)) == "not_cancellable"
    assert code_of(lambda: operations(world).cancel("ord_nope")) == "order_not_found"


def test_a_refund_noted_long_ago_does_not_count_as_repeated(world):
    paid_order(world)
    world.records.remember_refund(ORDER, None, {"refund_id": "old"},
                                  world.clock.now - timedelta(hours=1))
    assert "repeated" not in operations(world).refund(ORDER, None).detail
