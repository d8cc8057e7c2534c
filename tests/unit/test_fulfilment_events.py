"""Merchant events on fulfill's cheap path (the order names its unsent events, so a task needs
no outbox query), on the in-memory fakes: every transition's event handed over once, older
unsent events first, whatever crashed where, for orders written before the list existed too."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.adapters.tasks import EnqueueError
from shared.usecases.fulfilment import DONE, RETRY, Attempt, Fulfilment, FulfilTask
from tests.support.fakes.world import ORDER, SHOP_URL, World, settings

FIRST, SECOND = Attempt(1, 5), Attempt(2, 5)


class Calls:
    """Counts the outbox's and the ledger's calls (each one a Firestore round trip)."""

    def __init__(self, world: World) -> None:
        self.counts: Counter[str] = Counter()
        for port, names in ((world.outbox, ("pending", "unsent", "mark_sent")),
                            (world.ledger, ("mark_processed",))):
            for name in names:
                if hasattr(port, name):
                    setattr(port, name, self._wrap(name, getattr(port, name)))

    def _wrap(self, name: str, call: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.counts[name] += 1
            return call(*args, **kwargs)
        return counted


@pytest.fixture
def world() -> World:
    w = World()
    w.store(emit_events=True, has_effects=False)
    w.order()
    return w


def fulfilment(world: World) -> Fulfilment:
    return Fulfilment(settings(merchant_webhook_url=SHOP_URL), world.orders, world.ledger,
                      world.gateway_factory(), world.queue_factory(), clock=world.clock,
                      outbox=world.outbox, alerts=world.alerts)


def task(resource: str, notification: str = "n1", topic: str = "payment") -> FulfilTask:
    return FulfilTask(topic, resource, notification)


def sent(world: World) -> list[str]:
    return [t.headers["X-Event-Type"] for t in world.queue.on("merchant-events")]


def refund(world: World, pid: str) -> None:
    world.clock.advance(seconds=5)
    world.gateway.set_status(pid, "refunded", "refunded", refunded_amount=Decimal("200.00"))


def test_a_paying_task_sends_its_event_without_querying_the_outbox(world):
    calls = Calls(world)
    pid = world.pay()
    assert fulfilment(world).handle(task(pid), FIRST).handled is DONE
    assert sent(world) == ["order.paid"]
    assert calls.counts == {"mark_sent": 1}  # the processed id rode the apply commit
    assert world.ledger.processed("n1")["order_id"] == ORDER
    assert world.orders.get(ORDER)["unsent_events"] == []
    assert world.outbox.pending(ORDER) == []


def test_a_task_with_nothing_to_apply_records_itself_alone(world):
    pid = world.pay()
    fulfilment(world).handle(task(pid), FIRST)
    calls = Calls(world)
    assert fulfilment(world).handle(task(pid, "n2"), FIRST).handled is DONE
    assert calls.counts == {"mark_processed": 1}
    assert sent(world) == ["order.paid"]


def test_a_crash_between_staging_and_hand_over_is_repaired_by_the_retry(world):
    pid = world.pay()
    world.queue.fail_next("enqueue", EnqueueError("queue down"))
    assert fulfilment(world).handle(task(pid), FIRST).handled is RETRY
    assert sent(world) == [] and world.orders.get(ORDER)["unsent_events"] != []
    assert fulfilment(world).handle(task(pid), SECOND).handled is DONE
    assert sent(world) == ["order.paid"]
    assert world.orders.get(ORDER)["unsent_events"] == []


def test_an_unsent_event_goes_before_a_later_transitions_event(world):
    pid = world.pay()
    world.queue.fail_next("enqueue", EnqueueError("queue down"))
    fulfilment(world).handle(task(pid), FIRST)
    refund(world, pid)
    calls = Calls(world)
    assert fulfilment(world).handle(task(pid, "n2"), FIRST).handled is DONE
    assert sent(world) == ["order.paid", "order.refunded"]
    assert calls.counts == {"unsent": 1, "mark_sent": 1}  # read by id, marked in one commit
    assert world.outbox.pending(ORDER) == []
    assert fulfilment(world).handle(task(pid), SECOND).handled is DONE  # the first's retry
    assert sent(world) == ["order.paid", "order.refunded"]


def test_a_crash_between_hand_over_and_mark_sent_sends_each_event_once(world):
    pid = world.pay()
    world.outbox.fail_next("mark_sent", gexc.ServiceUnavailable("firestore down"))
    assert fulfilment(world).handle(task(pid), FIRST).handled is RETRY
    assert sent(world) == ["order.paid"]
    assert world.orders.get(ORDER)["unsent_events"] != []
    # another notification's first attempt sees the listed event: the named task is not
    # created twice, and the event is marked sent
    assert fulfilment(world).handle(task(pid, "n2"), FIRST).handled is DONE
    assert sent(world) == ["order.paid"]
    assert world.outbox.pending(ORDER) == [] and world.orders.get(ORDER)["unsent_events"] == []


def test_duplicate_and_stale_notifications_send_nothing_again(world):
    pid = world.pay(status="pending", detail="pending_waiting_transfer",
                    payment_method_id="pix")
    fulfilment(world).handle(task(pid), FIRST)
    stale = world.gateway.get_payment(pid)
    world.gateway.set_status(pid, "approved", "accredited")
    fulfilment(world).handle(task(pid, "n2"), FIRST)
    world.gateway.payments[pid] = stale  # a stale answer after the approval
    for n in ("n3", "n4"):
        assert fulfilment(world).handle(task(pid, n), FIRST).handled is DONE
    assert world.orders.get(ORDER)["status"] == "paid"
    assert sent(world) == ["order.paid"]


def test_an_order_from_before_the_list_has_its_pending_events_sent_first(world):
    """An event the previous version staged: in the outbox, not named on the order."""
    pid = world.pay()
    world.queue.fail_next("enqueue", EnqueueError("queue down"))
    fulfilment(world).handle(task(pid), FIRST)
    del world.memory.collection("orders")[ORDER]["unsent_events"]
    refund(world, pid)
    assert fulfilment(world).handle(task(pid, "n2"), FIRST).handled is DONE
    assert sent(world) == ["order.paid", "order.refunded"]
    assert world.outbox.pending(ORDER) == []


def test_a_handoff_sends_every_pending_event_whatever_the_order_lists(world):
    pid = world.pay()
    world.queue.fail_next("enqueue", EnqueueError("queue down"))
    fulfilment(world).handle(task(pid), FIRST)
    world.memory.collection("orders")[ORDER]["unsent_events"] = []  # lost from the list
    assert fulfilment(world).handle(task(ORDER, "", topic="order_handoff"),
                                    FIRST).handled is DONE
    assert sent(world) == ["order.paid"]
    assert world.outbox.pending(ORDER) == []


def test_a_retry_looks_at_the_whole_outbox(world):
    """A retry repairs what any earlier attempt left, listed on the order or not."""
    pid = world.pay()
    world.queue.fail_next("enqueue", EnqueueError("queue down"))
    fulfilment(world).handle(task(pid), FIRST)
    world.memory.collection("orders")[ORDER]["unsent_events"] = []
    assert fulfilment(world).handle(task(pid), SECOND).handled is DONE
    assert sent(world) == ["order.paid"]


def test_transitions_applied_elsewhere_name_their_events_on_the_order(world):
    """Expiry, mpctl's cancellation and fraud alerts stage events too."""
    world.orders.cancel_unpaid(ORDER, world.clock.now)
    assert len(world.orders.get(ORDER)["unsent_events"]) == 1
    other = "ord_unit00000000000000000002"
    world.order(other)
    world.alerts.record(other, "123", world.clock.now)
    [listed] = world.orders.get(other)["unsent_events"]
    assert world.outbox.event(listed)["type"] == "order.fraud_alert"
