"""OrderRepository against the Firestore emulator: monotonic, exactly-once, stale fetches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store.orders import OrderRepository


def _snap(status: str, updated: str, detail: str = "", pid: str = "p1",
          amount: str = "200.00") -> PaymentSnapshot:
    return PaymentSnapshot(id=pid, status=status, status_detail=detail, amount=Decimal(amount),
                           currency="BRL", external_reference="order-1",
                           date_created="2026-01-01T00:00:00.000-04:00",
                           date_last_updated=updated)


@pytest.fixture
def repo(firestore_project, firestore_emulator) -> OrderRepository:
    db = firestore_emulator.client(firestore_project)
    now = datetime.now(UTC)
    db.collection("orders").document("order-1").create({
        "order_id": "order-1", "status": "pending", "amount": "200.00", "currency": "BRL",
        "items": [], "created_at": now, "updated_at": now, "last_payment_id": "p1",
        "last_payment": {"id": "p1", "status": "pending"}, "payment_ids": ["p1"], "history": []})
    return OrderRepository(db)


def test_stale_fetch_after_newer_state_changes_nothing(repo):
    now = datetime.now(UTC)
    r1 = repo.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00", "accredited"), now)
    assert r1.after.value == "paid" and r1.fulfilment_due
    r2 = repo.apply_payment(_snap("refunded", "2026-01-01T00:00:20.000-04:00"), now)
    assert r2.after.value == "refunded"
    stale = repo.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00", "accredited"), now)
    assert stale.after.value == "refunded" and not stale.payment_changed
    older = repo.apply_payment(_snap("pending", "2026-01-01T00:00:01.000-04:00"), now)
    assert older.after.value == "refunded"
    order = repo.get("order-1")
    assert order["last_payment"]["status"] == "refunded"
    assert [h["status"] for h in order["history"]] == ["paid", "refunded"]


def test_concurrent_applies_make_exactly_one_fulfilment(repo):
    now = datetime.now(UTC)
    snap = _snap("approved", "2026-01-01T00:00:10.000-04:00", "accredited")
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: repo.apply_payment(snap, now), range(10)))
    assert sum(r.decision.fulfil for r in results) == 1
    assert all(r.after.value == "paid" for r in results)
    assert repo.fulfilment("order-1")["state"] == "pending"


def test_amount_mismatch_records_anomaly_and_leaves_order_pending(repo, firestore_emulator,
                                                                  firestore_project):
    now = datetime.now(UTC)
    r = repo.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00", amount="20.00"), now)
    assert r.after.value == "pending" and r.decision.anomaly.value == "amount_mismatch"
    db = firestore_emulator.client(firestore_project)
    assert [d.id for d in db.collection("anomalies").stream()] == ["amount_mismatch-p1"]
    assert repo.fulfilment("order-1") is None


def test_outbox_event_expires_only_after_it_was_handed_over(repo, firestore_emulator,
                                                           firestore_project):
    # repo: seeds order-1
    from datetime import timedelta

    from shared.adapters.store.outbox import Outbox

    db = firestore_emulator.client(firestore_project)
    emitting = OrderRepository(db, emit_events=True)
    now = datetime.now(UTC)
    emitting.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00", "accredited"), now)
    outbox = Outbox(db)
    (event,) = outbox.pending("order-1")
    assert event["type"] == "order.paid" and "expires_at" not in event  # TTL cannot lose it
    sent = now + timedelta(days=40)  # however long it waited
    outbox.mark_sent("order-1", [event["event_id"]], sent)
    doc = outbox.ref(event["event_id"]).get().to_dict()
    assert doc["state"] == "sent" and doc["expires_at"] == sent + timedelta(days=30)
    assert outbox.pending("order-1") == []
