"""Reconciler, every branch, on in-memory fakes: the payments sweep (scheduled cursor and
explicit windows, keyset paging, item cap, time budget) and the pending-orders sweep (live
first, oldest first, expiry of abandoned orders)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from shared.usecases.fulfil_task import FulfilTask
from shared.usecases.reconcile import MAX_LOOKBACK, OVERLAP, Reconciler
from tests.support.fakes.gateway import FakeGateway
from tests.support.fakes.reconcile_store import FakeReconcileStore
from tests.support.fakes.world import START, World, settings


@dataclass
class Ticker:
    """A monotonic clock that moves ``step`` seconds each time it is read."""

    now: float = 1000.0
    step: float = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def world() -> World:
    return World(gateway=FakeGateway(start=START - timedelta(minutes=20)))


def reconciler(world: World, ticker: Ticker | None = None, **changes: Any) -> Reconciler:
    base: dict[str, Any] = {"reconcile_window_minutes": 60,
                            "reconcile_pending_after_minutes": 15, **changes}
    return Reconciler(settings(**base), FakeReconcileStore(world.memory),
                      world.gateway_factory(), world.queue_factory(), clock=world.clock,
                      monotonic=ticker or Ticker(), outbox=world.outbox, markers=world.orders)


def corrected_ids(world: World) -> list[str]:
    return [t["resource_id"] for t in world.fulfil_tasks()]


def store_payment(world: World, payment_id: str) -> None:
    """Firestore already holds the payment's current state (fulfil applied it)."""
    world.orders.apply_payment(world.gateway.get_payment(payment_id), world.clock.now)


# -- sweep 1: payments -------------------------------------------------------------------------
def test_a_payment_firestore_missed_becomes_one_named_fulfil_task(world):
    world.order()
    missed = world.pay()
    report = reconciler(world).run()
    assert report.corrected == [missed] and report.enqueued == 1 and report.window_done
    [task] = world.queue.on("fulfill")
    snap = world.gateway.get_payment(missed)
    assert task.task_id == FulfilTask.for_reconcile(snap.id, snap.status, snap.status_detail,
                                                    snap.date_last_updated).name
    assert corrected_ids(world) == [missed]


def test_a_payment_firestore_already_holds_is_left_alone(world):
    world.order()
    store_payment(world, world.pay())
    report = reconciler(world).run()
    assert report.payments_seen == 1 and report.enqueued == 0 and world.queue.tasks == {}


def test_a_payment_whose_state_moved_since_it_was_stored_is_enqueued_again(world):
    world.order()
    pid = world.pay()
    store_payment(world, pid)
    world.gateway.set_status(pid, "refunded", "refunded")
    assert reconciler(world).run().corrected == [pid]


def test_a_payment_of_no_order_of_ours_is_not_compared(world):
    world.pay(order_id="")
    report = reconciler(world).run()
    assert report.payments_seen == 1 and report.enqueued == 0


def test_a_second_run_beside_the_first_enqueues_nothing_twice(world):
    world.order()
    world.gateway._now = START - timedelta(seconds=30)  # updated within the overlap
    world.pay()
    reconciler(world).run()
    world.clock.advance(seconds=30)  # the next window overlaps the last one (OVERLAP)
    again = reconciler(world).run()
    assert again.enqueued == 0 and again.already_queued == 1
    assert len(world.queue.tasks) == 1


def test_the_scheduled_cursor_resumes_from_the_end_of_a_covered_window(world):
    reconciler(world).run()
    world.clock.advance(minutes=5)
    report = reconciler(world).run()
    assert report.window_start == (START - OVERLAP).isoformat(timespec="milliseconds")


def test_a_cursor_older_than_the_lookback_starts_at_the_floor(world):
    store = FakeReconcileStore(world.memory)
    store.save_cursor("payments", {"resume_from": START - timedelta(days=90), "truncated": True})
    report = reconciler(world).run()
    assert report.window_start == (START - MAX_LOOKBACK).isoformat(timespec="milliseconds")


def test_the_item_cap_truncates_a_run_and_the_next_resumes_where_it_stopped(world):
    world.order()
    pids = [world.pay() for _ in range(5)]
    first = reconciler(world, reconcile_max_items=2).run()
    assert first.payments_seen == 2 and first.truncated and not first.window_done
    assert first.payments_remaining == 3
    assert FakeReconcileStore(world.memory).cursor("payments")["truncated"] is True
    seen = list(first.corrected)
    for _ in range(3):
        report = reconciler(world, reconcile_max_items=2).run()
        seen += report.corrected
        if report.window_done:
            break
    assert sorted(seen) == sorted(pids) and len(world.queue.tasks) == 5


def test_payments_updated_at_one_instant_page_on_by_offset(world, monkeypatch):
    world.order()
    pids = [world.pay() for _ in range(3)]
    moment = world.gateway.get_payment(pids[0]).date_last_updated
    for pid in pids:  # three payments at exactly the same millisecond
        world.gateway.payments[pid] = world.gateway.payments[pid].__class__(
            **{**world.gateway.payments[pid].__dict__, "date_last_updated": moment})
    monkeypatch.setattr("shared.usecases.reconcile.PAGE", 2)
    report = reconciler(world).run()
    assert sorted(report.corrected) == sorted(pids)  # each once, none skipped
    assert report.window_done


def test_a_payment_without_a_usable_date_is_looked_at_without_moving_the_cursor(world):
    world.order()
    pid = world.pay()
    snap = world.gateway.payments[pid]
    world.gateway.payments[pid] = snap.__class__(**{**snap.__dict__,
                                                    "date_last_updated": "yesterday-ish"})
    world.gateway.search_payments = lambda filters: ([world.gateway.payments[pid]], 1)
    report = reconciler(world).run()
    assert report.corrected == [pid] and report.window_done


def test_out_of_time_the_payments_sweep_stops_and_saves_its_cursor(world):
    world.order()
    for _ in range(3):
        world.pay()
    # budget 10 s, 75 % for payments: the clock passes it after the first reads
    report = reconciler(world, Ticker(step=4.0), reconcile_time_budget_seconds=10).run()
    assert report.truncated and not report.window_done
    assert FakeReconcileStore(world.memory).cursor("payments")["truncated"] is True


# -- explicit windows (mpctl reconcile --since) -------------------------------------------------
def test_a_window_run_covers_since_and_a_later_one_continues_it(world):
    world.order()
    pids = [world.pay() for _ in range(3)]
    first = reconciler(world, reconcile_max_items=2).run(timedelta(hours=1))
    assert first.mode == "window" and not first.window_done and len(first.corrected) == 2
    second = reconciler(world, reconcile_max_items=2).run(timedelta(hours=1))
    assert second.continued and second.window_done
    assert sorted(first.corrected + second.corrected) == sorted(pids)


def test_a_new_window_starts_over(world):
    world.order()
    world.pay()
    reconciler(world, reconcile_max_items=1).run(timedelta(hours=1))
    fresh = reconciler(world).run(timedelta(hours=1), new_window=True)
    assert not fresh.continued and fresh.payments_seen == 1 and fresh.already_queued == 1


def test_a_later_start_within_an_open_window_skips_what_was_not_asked_again(world):
    world.order()
    world.pay()  # 20 minutes before now
    world.gateway._now = START - timedelta(minutes=1)
    late = world.pay()
    reconciler(world, reconcile_max_items=1).run(timedelta(hours=1))  # opens, truncated
    world.clock.advance(seconds=1)
    report = reconciler(world).run(timedelta(minutes=5))
    assert report.continued and report.corrected == [late]


# -- sweep 2: pending orders -----------------------------------------------------------------
def test_a_pending_order_with_a_payment_firestore_missed_is_corrected(world):
    world.order(created_at=START - timedelta(hours=2))
    pid = world.pay()
    world.gateway.payments[pid] = world.gateway.payments[pid].__class__(**{
        **world.gateway.payments[pid].__dict__,
        "date_last_updated": "2026-02-01T00:00:00.000-04:00"})  # outside the payments window
    report = reconciler(world).run()
    assert report.orders_checked == 1 and report.corrected == [pid]


def test_an_abandoned_order_expires_and_its_event_is_handed_to_fulfill(world):
    world.order(created_at=START - timedelta(days=2), updated_at=START - timedelta(days=2))
    report = reconciler(world, order_ttl_hours=24).run()
    assert report.orders_expired == 1
    assert world.orders.get("ord_unit00000000000000000001")["status"] == "cancelled"
    assert [t["topic"] for t in world.fulfil_tasks()] == ["order_handoff"]
    assert reconciler(world, order_ttl_hours=24).run().orders_expired == 0


def test_an_order_with_a_live_payment_at_mercado_pago_never_expires(world):
    world.order(created_at=START - timedelta(days=2), updated_at=START - timedelta(days=2))
    world.pay(status="in_process", detail="pending_contingency")
    report = reconciler(world, order_ttl_hours=24).run()
    assert report.orders_expired == 0 and report.corrected  # corrected, not expired


def test_orders_whose_last_attempt_is_live_are_checked_first_and_once(world):
    for i in range(3):
        world.order(f"ord_junk{i:020d}", created_at=START - timedelta(hours=3, minutes=i))
    world.order("ord_live00000000000000000001", created_at=START - timedelta(hours=1),
                last_payment={"id": "1", "status": "pending"})
    report = reconciler(world, order_ttl_hours=1000).run()
    assert report.orders_checked == 4  # the live one first, not again in the oldest pass


def test_the_pending_sweep_stops_out_of_time_and_resumes_from_its_cursor(world):
    for i in range(3):
        world.order(f"ord_old{i:021d}", created_at=START - timedelta(hours=5 - i))
    ticker = Ticker()
    run = reconciler(world, ticker, reconcile_time_budget_seconds=100, order_ttl_hours=1000)
    search = world.gateway.search_payments

    def slow_search(filters: dict[str, Any]) -> Any:
        if "external_reference" in filters:
            ticker.now += 60  # each order check takes 60 s of the 100 s budget
        return search(filters)

    world.gateway.search_payments = slow_search
    first = run.run()
    assert first.truncated and 1 <= first.orders_checked < 3
    after = FakeReconcileStore(world.memory).cursor("pending_orders")["after"]
    assert after is not None
    world.gateway.search_payments = search
    second = reconciler(world, order_ttl_hours=1000).run()
    assert not second.truncated
    assert first.orders_checked + second.orders_checked == 3
    assert FakeReconcileStore(world.memory).cursor("pending_orders")["after"] is None
