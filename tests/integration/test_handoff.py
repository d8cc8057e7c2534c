"""Transitions applied outside fulfill (mpctl) against the Firestore emulator: the event is
always written, the fulfilment is left for fulfill, and one named task hands both over."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store.orders import OrderRepository
from shared.adapters.store.outbox import Outbox
from shared.adapters.tasks import HttpTask

APPROVED = PaymentSnapshot(id="p1", status="approved", status_detail="accredited",
                           amount=Decimal("200.00"), currency="BRL",
                           external_reference="order-1",
                           date_created="2026-01-01T00:00:00.000-04:00",
                           date_last_updated="2026-01-01T00:00:10.000-04:00")


@pytest.fixture
def db(firestore_project, firestore_emulator):
    client = firestore_emulator.client(firestore_project)
    now = datetime.now(UTC)
    client.collection("orders").document("order-1").create({
        "order_id": "order-1", "status": "pending", "amount": "200.00", "currency": "BRL",
        "items": [], "created_at": now, "updated_at": now, "last_payment_id": "p1",
        "last_payment": {"id": "p1", "status": "pending"}, "payment_ids": ["p1"], "history": []})
    return client


def test_a_transition_without_a_shop_url_still_writes_its_event_with_a_ttl(db):
    now = datetime.now(UTC)
    OrderRepository(db).apply_payment(APPROVED, now)  # no shop URL in this process
    (event,) = Outbox(db).pending("order-1")
    assert event["type"] == "order.paid"
    assert event["expires_at"] == event["created_at"] + timedelta(days=30)


def test_a_fulfilment_applied_outside_fulfill_is_left_for_fulfill(db):
    now = datetime.now(UTC)
    operator = OrderRepository(db, defer_effects=True)  # mpctl's process, hooks or not
    applied = operator.apply_payment(APPROVED, now)
    assert applied.decision.fulfil and not applied.fulfilment_due  # not run here
    marker = operator.fulfilment("order-1")
    assert marker["state"] == "pending" and marker["lease_until"] <= now  # no lease held
    # fulfill, with the shop's hooks, re-applies the payment and finds the fulfilment due.
    fulfill = OrderRepository(db, emit_events=True, has_effects=True)
    again = fulfill.apply_payment(APPROVED, now + timedelta(seconds=1))
    assert not again.decision.fulfil and again.fulfilment_due
    assert fulfill.claim_fulfilment("order-1", now + timedelta(seconds=1)) is not None


class _Queue:
    def __init__(self) -> None:
        self.tasks: dict[str, HttpTask] = {}

    def enqueue(self, task: HttpTask) -> bool:
        created = task.task_id not in self.tasks
        self.tasks.setdefault(task.task_id, task)
        return created


def test_hand_over_queues_one_named_task_per_pending_state(db):
    import json

    from shared.platform.config import Settings
    from shared.usecases.handoff import hand_over

    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", "FULFILL_URL": "https://f.example",
                                  "TASKS_SERVICE_ACCOUNT": "t@p.iam.gserviceaccount.com"})
    queue = _Queue()
    outbox, markers = Outbox(db), OrderRepository(db)
    assert hand_over(settings, queue, outbox, markers, "order-1") is None  # nothing pending
    OrderRepository(db, defer_effects=True).apply_payment(APPROVED, datetime.now(UTC))
    first = hand_over(settings, queue, outbox, markers, "order-1")
    assert first is not None and hand_over(settings, queue, outbox, markers, "order-1") == first
    [task] = queue.tasks.values()
    assert json.loads(task.body)["topic"] == "order_handoff" and task.url == "https://f.example"
    assert task.oidc_service_account == "t@p.iam.gserviceaccount.com"
    outbox.mark_sent("order-1", [outbox.pending("order-1")[0]["event_id"]], datetime.now(UTC))
    assert hand_over(settings, queue, outbox, markers, "order-1") not in (None, first)  # marker left


hook_calls: list[str] = []


def record_call(order) -> None:  # an ORDER_PAID_HOOKS target for the test below
    hook_calls.append(order.order_id)


class _Gateway:
    def get_payment(self, payment_id: str) -> PaymentSnapshot:
        assert payment_id == APPROVED.id
        return APPROVED


@pytest.mark.parametrize("hooks", ["tests.integration.test_handoff:record_call", ""])
def test_fulfill_completes_a_fulfilment_another_process_left(db, monkeypatch, request, hooks):
    import json

    from shared import wiring
    from shared.adapters.store.ledger import Ledger
    from shared.platform.config import Settings
    from shared.usecases.fulfil_task import FulfilTask
    from shared.usecases.fulfilment import Attempt, Fulfilment

    monkeypatch.setenv("ORDER_PAID_HOOKS", hooks)
    wiring.reset()  # the hooks are read once, with the settings
    request.addfinalizer(wiring.reset)  # runs after monkeypatch has restored the environment
    hook_calls.clear()
    OrderRepository(db, defer_effects=True).apply_payment(APPROVED, datetime.now(UTC))
    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", "ORDER_PAID_HOOKS": hooks})
    fulfill = Fulfilment(settings, OrderRepository(db, has_effects=bool(hooks)),
                         Ledger(db, 30), _Gateway, _Queue, outbox=Outbox(db))
    task = FulfilTask.decode(json.dumps({"topic": "order_handoff", "resource_id": "order-1",
                                         "action": "handoff"}).encode())
    outcome = fulfill.handle(task, Attempt(1, 10))
    assert outcome.done, outcome.body()
    assert hook_calls == (["order-1"] if hooks else [])
    assert OrderRepository(db).fulfilment("order-1")["state"] == "done"
    assert fulfill.handle(task, Attempt(1, 10)).done  # again: nothing more runs
    assert hook_calls == (["order-1"] if hooks else [])
