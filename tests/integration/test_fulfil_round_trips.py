"""fulfill's Firestore round trips per task, counted on the real client against the emulator,
and the event promises that the cheaper path must keep (docs/design.md, "Exactly once"):
every transition's event handed over once, older unsent events first, none lost to a crash.

The counts wrap the client's GAPIC methods (each call is one RPC); Mercado Pago and Cloud
Tasks are the in-memory fakes (their calls are not what is counted here)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store.ledger import Ledger
from shared.adapters.store.orders import OrderRepository
from shared.adapters.store.outbox import Outbox
from shared.adapters.tasks import EnqueueError
from shared.usecases.fulfilment import DONE, RETRY, Attempt, Fulfilment, FulfilTask
from tests.support.fakes.gateway import FakeGateway
from tests.support.fakes.tasks import FakeTaskQueue
from tests.support.fakes.world import ORDER, SHOP_URL, settings

pytestmark = pytest.mark.integration

FIRST = Attempt(1, 5)
RPCS = ("batch_get_documents", "get_document", "commit", "run_query", "begin_transaction",
        "run_aggregation_query", "list_documents")


class Counted:
    """The Firestore client with its RPCs counted (one GAPIC call = one round trip)."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        api = db._firestore_api
        for name in RPCS:
            setattr(api, name, self._counting(name, getattr(api, name)))

    def _counting(self, name: str, call: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return call(*args, **kwargs)
        return counted

    def take(self) -> dict[str, int]:
        """The calls since the last take."""
        with self._lock:
            taken = {k: v for k, v in self.calls.items() if v}
            self.calls.clear()
        return taken


class Setup:
    def __init__(self, db: Any) -> None:
        self.db = db
        self.counted = Counted(db)
        self.gateway = FakeGateway()
        self.queue = FakeTaskQueue()
        self.outbox = Outbox(db)
        self.orders = OrderRepository(db, emit_events=True, has_effects=False)  # no hooks
        now = datetime.now(UTC)
        db.collection("orders").document(ORDER).create({
            "order_id": ORDER, "status": "pending", "amount": "200.00", "currency": "BRL",
            "items": [], "created_at": now, "updated_at": now,
            "history": [{"status": "pending", "at": now}]})
        self.counted.take()

    def fulfilment(self) -> Fulfilment:
        return Fulfilment(settings(merchant_webhook_url=SHOP_URL), self.orders,
                          Ledger(self.db, 30), lambda: self.gateway, lambda: self.queue,
                          outbox=self.outbox)

    def pay(self, status: str = "approved", detail: str = "accredited", **kwargs: Any) -> str:
        return self.gateway.add_payment(ORDER, Decimal("200.00"), status, detail, **kwargs).id

    def sent(self) -> list[str]:
        return [t.headers["X-Event-Type"] for t in self.queue.on("merchant-events")]

    def order(self) -> dict[str, Any]:
        return self.db.collection("orders").document(ORDER).get().to_dict()

    def processed(self, notification_id: str) -> dict[str, Any] | None:
        snap = self.db.collection("processed_notifications").document(notification_id).get()
        return snap.to_dict() if snap.exists else None


@pytest.fixture
def setup(firestore_project: str, firestore_emulator: Any) -> Iterator[Setup]:
    db = firestore_emulator.client(firestore_project)
    db.collection("warm-up").document("x").get(timeout=60)  # the JVM's first answer
    yield Setup(db)


def task(resource: str, notification: str, topic: str = "payment") -> FulfilTask:
    return FulfilTask(topic, resource, notification)


def test_a_paying_task_reads_once_and_commits_twice_without_an_outbox_query(setup):
    pid = setup.pay()
    outcome = setup.fulfilment().handle(task(pid, "n1"), FIRST)
    assert (outcome.handled, outcome.detail["order_status"]) == (DONE, "paid")
    # one read (order + payment record), the apply commit (transition, event, processed id),
    # one commit marking the event sent
    assert setup.counted.take() == {"batch_get_documents": 1, "commit": 2}
    assert setup.sent() == ["order.paid"]
    assert setup.outbox.pending(ORDER) == []
    assert setup.processed("n1")["order_id"] == ORDER


def test_a_duplicate_notification_reads_once_and_only_records_itself(setup):
    pid = setup.pay()
    setup.fulfilment().handle(task(pid, "n1"), FIRST)
    setup.counted.take()
    outcome = setup.fulfilment().handle(task(pid, "n2"), FIRST)
    assert outcome.handled is DONE and outcome.detail["order_status"] == "paid"
    assert setup.counted.take() == {"batch_get_documents": 1, "commit": 1}
    assert setup.sent() == ["order.paid"] and setup.processed("n2") is not None


def test_a_rejected_payment_reads_once_and_commits_once(setup):
    pid = setup.pay(status="rejected", detail="cc_rejected_other_reason")
    assert setup.fulfilment().handle(task(pid, "n1"), FIRST).handled is DONE
    assert setup.counted.take() == {"batch_get_documents": 1, "commit": 1}
    assert setup.sent() == [] and setup.processed("n1") is not None


def test_an_event_whose_hand_over_failed_goes_first_with_the_next_transitions(setup):
    pid = setup.pay()
    setup.queue.fail_next("enqueue", EnqueueError("queue down"))
    assert setup.fulfilment().handle(task(pid, "n1"), FIRST).handled is RETRY
    assert setup.sent() == []
    # before the retry, a refund's notification (its own first attempt)
    setup.gateway.set_status(pid, "refunded", "refunded", refunded_amount=Decimal("200.00"))
    setup.counted.take()
    assert setup.fulfilment().handle(task(pid, "n2"), FIRST).handled is DONE
    assert setup.sent() == ["order.paid", "order.refunded"]  # oldest first, each once
    # the order named the unsent event: read by id (one document: a unary read), not by a query
    assert setup.counted.take() == {"batch_get_documents": 1, "get_document": 1, "commit": 2}
    assert setup.outbox.pending(ORDER) == []
    # the first task's retry finds nothing left to send
    assert setup.fulfilment().handle(task(pid, "n1"), Attempt(2, 5)).handled is DONE
    assert setup.sent() == ["order.paid", "order.refunded"]


def test_a_crash_between_hand_over_and_mark_sent_sends_the_event_once(setup, monkeypatch):
    pid = setup.pay()
    real = Outbox.mark_sent

    def crash(self: Outbox, *args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(Outbox, "mark_sent", real)  # once
        raise gexc.ServiceUnavailable("firestore went away")

    monkeypatch.setattr(Outbox, "mark_sent", crash)
    assert setup.fulfilment().handle(task(pid, "n1"), FIRST).handled is RETRY
    assert setup.sent() == ["order.paid"]
    assert [e["type"] for e in setup.outbox.pending(ORDER)] == ["order.paid"]
    assert setup.fulfilment().handle(task(pid, "n1"), Attempt(2, 5)).handled is DONE
    assert setup.sent() == ["order.paid"]  # the named task was not made twice
    assert setup.outbox.pending(ORDER) == []


def test_an_order_from_before_the_unsent_list_has_its_old_events_sent_first(setup):
    """Events staged by the previous version, which did not list them on the order."""
    pid = setup.pay()
    setup.fulfilment().handle(task(pid, "n1"), FIRST)
    ref = setup.db.collection("orders").document(ORDER)
    ref.update({"unsent_events": firestore.DELETE_FIELD})
    setup.db.collection("outbox").document(_paid_event_id(setup)).update(
        {"state": "pending", "sent_at": firestore.DELETE_FIELD,
         "expires_at": firestore.DELETE_FIELD})
    setup.queue.tasks.clear()
    setup.gateway.set_status(pid, "refunded", "refunded", refunded_amount=Decimal("200.00"))
    assert setup.fulfilment().handle(task(pid, "n2"), FIRST).handled is DONE
    assert setup.sent() == ["order.paid", "order.refunded"]
    assert setup.outbox.pending(ORDER) == []
    assert setup.order().get("unsent_events") == []


def _paid_event_id(setup: Setup) -> str:
    [doc] = [d for d in setup.db.collection("outbox").stream()
             if (d.to_dict() or {}).get("type") == "order.paid"]
    return str(doc.id)


def test_concurrent_tasks_for_one_order_send_its_event_once(setup):
    pid = setup.pay()
    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(lambda i: setup.fulfilment().handle(task(pid, f"n{i}"), FIRST),
                                 range(6)))
    assert all(o.handled is DONE for o in outcomes)
    assert setup.sent() == ["order.paid"]
    assert setup.outbox.pending(ORDER) == []
    assert setup.order().get("unsent_events", []) == []
    assert sum(o.detail["fulfilled"] for o in outcomes) == 1
