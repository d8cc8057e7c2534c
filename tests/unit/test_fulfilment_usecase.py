"""Fulfilment, every branch, on in-memory fakes (tests/support/fakes): no emulator, no
network. The fakes are held to the adapters' behaviour by tests/integration/test_contracts_*."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.adapters import hooks
from shared.adapters.hooks import PaidOrder
from shared.adapters.mercadopago.errors import ProviderUnavailable
from shared.adapters.tasks import EnqueueError
from shared.domain import events
from shared.platform.secrets import MissingSecret
from shared.usecases.fulfilment import DONE, RETRY, Attempt, Fulfilment, FulfilTask
from tests.support.fakes.world import ORDER, SHOP_URL, World, settings

FIRST = Attempt(1, 5)
LAST = Attempt(5, 5)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> list[PaidOrder]:
    """One shop hook, recording what it is given."""
    calls: list[PaidOrder] = []

    def ship(order: PaidOrder) -> None:
        calls.append(order)

    monkeypatch.setattr(hooks, "configured", lambda spec=None: (ship,))
    return calls


def fulfilment(world: World, *, handoff: bool = False, alerts: bool = True,
               gateway: Callable[[], Any] | None = None, **changes: Any) -> Fulfilment:
    return Fulfilment(settings(**changes), world.orders, world.ledger,
                      gateway or world.gateway_factory(), world.queue_factory(),
                      clock=world.clock, outbox=world.outbox,
                      alerts=world.alerts if alerts else None, handoff=handoff)


def task(resource: str, topic: str = "payment", notification: str = "n1",
         signed: bool = True) -> FulfilTask:
    return FulfilTask(topic, resource, notification, resource_signed=signed)


def logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


# -- the payment path ---------------------------------------------------------------------
def test_an_approved_payment_pays_the_order_runs_the_hooks_once_and_marks_the_notification(
        world, shipped):
    world.order()
    pid = world.pay()
    outcome = fulfilment(world).handle(task(pid), FIRST)
    assert (outcome.handled, outcome.result) == (DONE, "applied")
    assert outcome.detail == {"order_id": ORDER, "order_status": "paid",
                              "payment_status": "approved", "fulfilled": True}
    assert [(c.order_id, c.payment_id, str(c.amount)) for c in shipped] == [
        (ORDER, pid, "200.00")]
    assert world.orders.fulfilment(ORDER)["state"] == "done"
    assert world.ledger.processed("n1")["order_id"] == ORDER
    again = fulfilment(world).handle(task(pid, notification="n2"), FIRST)
    assert again.detail["fulfilled"] is False and len(shipped) == 1


def test_a_task_without_notification_id_is_not_recorded_as_processed(world):
    world.order()
    pid = world.pay()
    assert fulfilment(world).handle(task(pid, notification=""), FIRST).handled is DONE
    assert world.memory.collection("processed_notifications") == {}


def test_a_topic_not_handled_is_ignored(world):
    outcome = fulfilment(world).handle(task("1", topic="point_integration_wh"), FIRST)
    assert (outcome.handled, outcome.result) == (DONE, "ignored")
    assert world.ledger.processed("n1") is None


def test_a_payment_without_external_reference_is_foreign(world):
    pid = world.pay(order_id="")
    outcome = fulfilment(world).handle(task(pid), FIRST)
    assert (outcome.handled, outcome.result) == (DONE, "ignored_foreign_payment")


def test_an_unknown_payment_is_retried_then_dead_lettered(world):
    ful = fulfilment(world, unknown_payment_max_attempts=3)
    assert ful.handle(task("424242"), Attempt(1, 10)).result == "unknown_payment_retrying"
    assert ful.handle(task("424242"), Attempt(2, 10)).handled is RETRY
    outcome = ful.handle(task("424242"), Attempt(3, 10))
    assert (outcome.handled, outcome.result) == (DONE, "dead_lettered")
    letter = world.ledger.dead_letter("n1")
    assert letter["reason"] == "unknown_payment" and letter["attempts"] == 3
    assert letter["task"]["resource_id"] == "424242"


def test_an_unknown_payment_on_the_queues_last_attempt_is_dead_lettered_at_once(world):
    outcome = fulfilment(world, unknown_payment_max_attempts=3).handle(task("424242"),
                                                                       Attempt(1, 1))
    assert outcome.result == "dead_lettered"


def test_a_payment_naming_a_missing_order_of_our_form_is_kept_as_an_orphan(world, capsys):
    pid = world.pay(order_id="ord_gone00000000000000000001")
    ful = fulfilment(world)
    outcome = ful.handle(task(pid), FIRST)
    assert (outcome.handled, outcome.result) == (DONE, "orphan_payment")
    assert world.records.orphan(pid)["external_reference"] == "ord_gone00000000000000000001"
    assert [e["event"] for e in logged(capsys) if e["severity"] == "ALERT"] == ["orphan_payment"]
    ful.handle(task(pid, notification="n2"), FIRST)  # seen again: refreshed, no new alert
    assert not [e for e in logged(capsys) if e["severity"] == "ALERT"]


def test_a_payment_naming_a_missing_order_of_another_form_waits_for_it(world):
    pid = world.pay(order_id="shop-reference-17")
    outcome = fulfilment(world).handle(task(pid), FIRST)
    assert (outcome.handled, outcome.result) == (RETRY, "order_not_found_retrying")
    assert fulfilment(world).handle(task(pid), LAST).result == "dead_lettered"
    assert world.ledger.dead_letter("n1")["reason"] == "order_not_found"


def test_an_amount_mismatch_is_an_alert_and_nothing_is_fulfilled(world, shipped, capsys):
    world.order()
    pid = world.pay(amount="2.00")
    outcome = fulfilment(world).handle(task(pid), FIRST)
    assert outcome.detail["order_status"] == "pending" and outcome.detail["fulfilled"] is False
    assert shipped == []
    assert "amount_mismatch" in [e["event"] for e in logged(capsys) if e["severity"] == "ALERT"]


def test_a_fulfilment_whose_hook_failed_is_finished_by_a_later_task(world, monkeypatch):
    world.order()
    pid = world.pay()
    calls: list[str] = []

    def flaky(order: PaidOrder) -> None:
        calls.append(order.fulfilment_id)
        if len(calls) == 1:
            raise RuntimeError("shop down")

    monkeypatch.setattr(hooks, "configured", lambda spec=None: (flaky,))
    with pytest.raises(RuntimeError):
        fulfilment(world).handle(task(pid), FIRST)
    assert world.orders.fulfilment(ORDER)["state"] == "pending"
    # Within the lease nobody else runs the hooks ...
    assert fulfilment(world).handle(task(pid, notification="n2"), FIRST).detail[
        "fulfilled"] is False
    # ... after it, the next task claims the marker and finishes with the same fulfilment id.
    world.clock.advance(minutes=2)
    outcome = fulfilment(world).handle(task(pid, notification="n3"), FIRST)
    assert outcome.detail["fulfilled"] is True
    assert calls == [f"ful_{ORDER}"] * 2
    assert world.orders.fulfilment(ORDER)["state"] == "done"


def test_a_fraud_alert_on_the_order_withholds_the_hooks(world, shipped):
    world.order(fraud_alert={"received_at": world.clock.now, "payment_id": "1"})
    pid = world.pay()
    outcome = fulfilment(world).handle(task(pid), FIRST)
    # "fulfilled" reports the transition (decision.fulfil); the hooks wait for the clearing
    assert outcome.detail["order_status"] == "paid"
    assert shipped == [] and world.orders.fulfilment(ORDER)["state"] == "pending"
    world.clock.advance(minutes=5)  # even once the lease ran out
    fulfilment(world).handle(task(pid, notification="n2"), FIRST)
    assert shipped == []


# -- failures -----------------------------------------------------------------------------
@pytest.mark.parametrize(("where", "error", "reason"), [
    ("orders", gexc.ServiceUnavailable("firestore down"), "storage_unavailable"),
    ("gateway", ProviderUnavailable("timeout", timeout=True), "provider_unavailable"),
])
def test_an_outage_is_retried_and_nothing_is_recorded(world, where, error, reason):
    world.order()
    pid = world.pay()
    if where == "orders":
        world.orders.fail_next("apply_payment", error)
    else:
        world.gateway.fail_next("get_payment", error)
    outcome = fulfilment(world).handle(task(pid), FIRST)
    assert (outcome.handled, outcome.result) == (RETRY, reason)
    assert world.ledger.processed("n1") is None and world.ledger.dead_letter("n1") is None
    assert world.orders.get(ORDER)["status"] == "pending"


def test_contention_is_retried(world):
    world.order()
    pid = world.pay()
    world.orders.lose_races(8)
    outcome = fulfilment(world).handle(task(pid), FIRST)
    assert (outcome.handled, outcome.result) == (RETRY, "contention")
    assert world.orders.get(ORDER)["status"] == "pending"
    assert fulfilment(world).handle(task(pid), FIRST).detail["order_status"] == "paid"


def test_contention_on_the_last_attempt_is_a_dead_letter(world):
    world.order()
    world.orders.lose_races(8)
    outcome = fulfilment(world).handle(task(world.pay()), LAST)
    assert (outcome.handled, outcome.result) == (DONE, "dead_lettered")
    assert world.ledger.dead_letter("n1")["detail"] == "Contention"


def test_a_lost_dead_letter_on_the_last_attempt_is_an_alert_and_a_retry(world, capsys):
    world.order()
    pid = world.pay()
    world.orders.fail_next("apply_payment", gexc.ServiceUnavailable("down"))
    world.ledger.fail_next("record_dead_letter", gexc.ServiceUnavailable("down"))
    outcome = fulfilment(world).handle(task(pid), LAST)
    assert (outcome.handled, outcome.result) == (RETRY, "storage_unavailable")
    assert "dead_letter_lost" in [e["event"] for e in logged(capsys)]


def test_a_missing_access_token_fails_closed_before_any_work(world):
    world.order()

    def no_token() -> Any:
        raise MissingSecret("secret MP_ACCESS_TOKEN is not configured")

    outcome = fulfilment(world, gateway=no_token).handle(task(world.pay()), FIRST)
    assert (outcome.handled, outcome.result) == (RETRY, "not_configured")
    assert world.orders.get(ORDER)["status"] == "pending"


def test_a_queue_outage_while_sending_events_is_retried_and_the_event_stays_pending(world):
    world.order()
    pid = world.pay()
    world.queue.fail_next("enqueue", EnqueueError("could not enqueue"))
    ful = fulfilment(world, merchant_webhook_url=SHOP_URL)
    outcome = ful.handle(task(pid), FIRST)
    assert (outcome.handled, outcome.result) == (RETRY, "enqueue_failed")
    assert [e["type"] for e in world.outbox.pending(ORDER)] == ["order.paid"]
    assert ful.handle(task(pid), FIRST).handled is DONE  # the retry sends it
    assert world.outbox.pending(ORDER) == []


# -- merchant events ----------------------------------------------------------------------
def test_events_are_signed_queued_once_and_marked_sent(world):
    world.order()
    pid = world.pay()
    ful = fulfilment(world, merchant_webhook_url=SHOP_URL)
    ful.handle(task(pid), FIRST)
    [sent] = world.queue.on("merchant-events")
    assert sent.url == SHOP_URL and sent.headers["X-Event-Type"] == "order.paid"
    body = json.loads(sent.body)
    assert body["order_id"] == ORDER and body["amount"] == "200.00"
    created = int(world.clock.now.timestamp())
    assert sent.headers["X-Signature"] == events.signature("unit-merchant-secret", created,
                                                           sent.body)
    assert world.outbox.pending(ORDER) == []
    ful.flush_events(ORDER)  # nothing left
    assert len(world.queue.on("merchant-events")) == 1


def test_without_a_shop_url_events_wait_in_the_outbox(world):
    world.order()
    fulfilment(world).handle(task(world.pay()), FIRST)
    assert [e["type"] for e in world.outbox.pending(ORDER)] == ["order.paid"]
    assert world.queue.tasks == {}


def test_a_process_that_hands_over_queues_one_task_for_fulfill(world):
    world.store(defer_effects=True)
    world.order()
    pid = world.pay()
    ful = fulfilment(world, handoff=True, merchant_webhook_url=SHOP_URL)
    ful.handle(task(pid), FIRST)
    [handoff] = world.fulfil_tasks()
    assert (handoff["topic"], handoff["resource_id"]) == ("order_handoff", ORDER)
    assert world.queue.on("merchant-events") == []  # fulfill sends them, not this process
    assert [e["type"] for e in world.outbox.pending(ORDER)] == ["order.paid"]


# -- containers: merchant orders and chargebacks -------------------------------------------
def test_a_merchant_order_applies_each_of_its_payments(world):
    world.order()
    rejected = world.pay(status="rejected", detail="cc_rejected_other_reason")
    approved = world.pay()
    world.gateway.add_merchant_order("77", ORDER, (rejected, approved))
    outcome = fulfilment(world).handle(task("77", topic="merchant_order"), FIRST)
    assert (outcome.result, outcome.detail) == ("applied", {"payments": 2})
    assert world.orders.get(ORDER)["status"] == "paid"


def test_a_merchant_order_without_payments_has_nothing_to_do(world):
    world.gateway.add_merchant_order("78", ORDER, ())
    assert fulfilment(world).handle(task("78", topic="merchant_order"),
                                    FIRST).result == "nothing_to_do"


def test_a_failing_payment_of_a_merchant_order_fails_the_task(world):
    world.gateway.add_merchant_order("79", ORDER, ("555",))
    outcome = fulfilment(world).handle(task("79", topic="merchant_order"), FIRST)
    assert (outcome.handled, outcome.result) == (RETRY, "unknown_payment_retrying")
    assert world.ledger.processed("n1") is None


def test_an_unknown_merchant_order_is_retried_then_dead_lettered(world):
    ful = fulfilment(world)
    assert ful.handle(task("80", topic="merchant_order"),
                      FIRST).result == "unknown_merchant_order_retrying"
    assert ful.handle(task("80", topic="merchant_order"), LAST).result == "dead_lettered"


def test_a_chargeback_moves_its_payment(world):
    world.order()
    pid = world.pay()
    ful = fulfilment(world)
    ful.handle(task(pid), FIRST)
    world.gateway.set_status(pid, "charged_back", "reimbursed")
    world.gateway.add_chargeback("cb1", (pid,))
    outcome = ful.handle(task("cb1", topic="chargebacks", notification="n2"), FIRST)
    assert outcome.result == "applied"
    assert world.orders.get(ORDER)["status"] == "charged_back"
    assert ful.handle(task("cb2", topic="chargebacks"), FIRST).result == \
        "unknown_chargebacks_retrying"


# -- fraud alerts ---------------------------------------------------------------------------
def test_a_fraud_alert_is_recorded_on_the_order_with_its_event(world, capsys):
    world.order()
    pid = world.pay(status="in_process", detail="pending_review_manual")
    outcome = fulfilment(world).handle(task(pid, topic="fraud_alert"), FIRST)
    assert outcome.detail == {"order_id": ORDER, "fraud_alert": True}
    assert world.orders.get(ORDER)["fraud_alert"]["payment_id"] == pid
    assert [e["type"] for e in world.outbox.pending(ORDER)] == ["order.fraud_alert"]
    assert "fraud_alert" in [e["event"] for e in logged(capsys) if e["severity"] == "ALERT"]


def test_a_fraud_alert_for_a_payment_of_no_order_of_ours_is_ignored(world):
    pid = world.pay(order_id="")
    outcome = fulfilment(world).handle(task(pid, topic="fraud_alert"), FIRST)
    assert outcome.result == "ignored_foreign_payment"
    pid = world.pay()
    assert fulfilment(world, alerts=False).handle(task(pid, topic="fraud_alert"),
                                                  FIRST).result == "ignored_foreign_payment"


@pytest.mark.parametrize(("signed", "result", "handled"), [
    (True, "unknown_payment_retrying", RETRY), (False, "ignored_unknown_payment", DONE)])
def test_a_fraud_alert_for_an_unknown_payment(world, signed, result, handled):
    outcome = fulfilment(world).handle(task("31337", topic="fraud_alert", signed=signed), FIRST)
    assert (outcome.handled, outcome.result) == (handled, result)


@pytest.mark.parametrize(("signed", "result", "handled"), [
    (True, "order_not_found_retrying", RETRY), (False, "ignored_foreign_payment", DONE)])
def test_a_fraud_alert_for_a_payment_whose_order_is_missing(world, signed, result, handled):
    pid = world.pay()  # its order was never created here
    outcome = fulfilment(world).handle(task(pid, topic="fraud_alert", signed=signed), FIRST)
    assert (outcome.handled, outcome.result) == (handled, result)


# -- hand-over tasks --------------------------------------------------------------------------
def test_a_handoff_for_a_missing_order_is_ignored(world):
    outcome = fulfilment(world).handle(task(ORDER, topic="order_handoff", notification=""),
                                       FIRST)
    assert outcome.result == "ignored" and outcome.detail == {"reason": "order_not_found"}


def test_a_handoff_for_an_order_without_payment_sends_its_events(world):
    world.order()
    world.orders.cancel_unpaid(ORDER, world.clock.now)
    outcome = fulfilment(world, merchant_webhook_url=SHOP_URL).handle(
        task(ORDER, topic="order_handoff", notification=""), FIRST)
    assert outcome.result == "applied"
    assert [t.headers["X-Event-Type"] for t in world.queue.on("merchant-events")] == [
        "order.cancelled"]


def test_a_handoff_finishes_the_fulfilment_another_process_left(world, shipped):
    world.store(defer_effects=True)
    world.order()
    pid = world.pay()
    fulfilment(world, handoff=True).handle(task(pid), FIRST)  # mpctl's process
    assert world.orders.fulfilment(ORDER)["state"] == "pending"
    world.store(emit_events=True)  # fulfill's
    outcome = fulfilment(world, merchant_webhook_url=SHOP_URL).handle(
        task(ORDER, topic="order_handoff", notification=""), FIRST)
    assert outcome.done and outcome.detail["fulfilled"] is True
    assert [s.order_id for s in shipped] == [ORDER]
    assert world.orders.fulfilment(ORDER)["state"] == "done"
    assert world.outbox.pending(ORDER) == []


# -- malformed tasks ----------------------------------------------------------------------------
def test_a_malformed_task_is_dead_lettered_once(world):
    ful = fulfilment(world)
    outcome = ful.reject_malformed(b'{"topic": 1', FIRST)
    assert (outcome.handled, outcome.result) == (DONE, "dead_lettered")
    [letter] = world.memory.collection("dead_letters").values()
    assert letter["reason"] == "malformed_task" and letter["task"] == {"raw": '{"topic": 1'}


def test_a_malformed_task_is_retried_while_storage_is_down(world):
    world.ledger.fail_next("record_dead_letter", gexc.ServiceUnavailable("down"))
    assert fulfilment(world).reject_malformed(b"[]", FIRST).handled is RETRY


def test_the_lease_is_not_claimed_by_a_fresh_transition_elsewhere(world, shipped):
    """Two deliveries within the lease: only the one that made the transition runs hooks."""
    world.order()
    pid = world.pay()
    first = fulfilment(world).handle(task(pid), FIRST)
    world.clock.advance(seconds=1)
    second = fulfilment(world).handle(task(pid, notification="n2"), FIRST)
    assert first.detail["fulfilled"] and not second.detail["fulfilled"]
    assert len(shipped) == 1 and world.clock.now - timedelta(seconds=1) < world.clock.now


def test_a_stale_fetch_never_moves_the_order_back(world, shipped):
    world.order()
    pid = world.pay()
    approved = world.gateway.get_payment(pid)
    ful = fulfilment(world)
    ful.handle(task(pid), FIRST)
    world.gateway.set_status(pid, "refunded", "refunded", refunded_amount=approved.amount)
    assert ful.handle(task(pid, notification="n2"), FIRST).detail["order_status"] == "refunded"
    world.gateway.payments[pid] = approved  # a lagging read answers the older state
    outcome = ful.handle(task(pid, notification="n3"), FIRST)
    assert outcome.detail["order_status"] == "refunded" and outcome.detail["fulfilled"] is False
    assert len(shipped) == 1
