"""Chargeback status details and fraud alerts on the order store (Firestore emulator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store.orders import OrderNotFound, OrderRepository
from shared.adapters.store.outbox import Outbox
from shared.usecases.checkout import public_order
from shared.usecases.fraud_alerts import FraudAlerts


def _snap(status: str, updated: str, detail: str = "") -> PaymentSnapshot:
    return PaymentSnapshot(id="p1", status=status, status_detail=detail, amount=Decimal("200.00"),
                           currency="BRL", external_reference="order-1",
                           date_created="2026-01-01T00:00:00.000-04:00",
                           date_last_updated=updated)


@pytest.fixture
def db(firestore_project, firestore_emulator):
    client = firestore_emulator.client(firestore_project)
    now = datetime.now(UTC)
    client.collection("orders").document("order-1").create({
        "order_id": "order-1", "status": "pending", "amount": "200.00", "currency": "BRL",
        "items": [], "created_at": now, "updated_at": now, "last_payment_id": "p1",
        "last_payment": {"id": "p1", "status": "pending"}, "payment_ids": ["p1"], "history": []})
    return client


def _events(db) -> list[dict]:
    docs = [d.to_dict() for d in db.collection("outbox").stream()]
    return sorted(docs, key=lambda d: d["created_at"])


def test_chargeback_status_detail_is_carried_and_each_change_announced_once(db):
    repo = OrderRepository(db, emit_events=True)
    now = datetime.now(UTC)
    repo.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00", "accredited"), now)
    repo.apply_payment(_snap("charged_back", "2026-01-01T00:00:20.000-04:00", "in_process"), now)
    order = repo.get("order-1")
    assert order["status"] == "charged_back"
    assert public_order(order)["chargeback"] == {"status_detail": "in_process"}
    [paid, charged] = _events(db)
    assert charged["type"] == "order.charged_back" and charged["status_detail"] == "in_process"

    reimbursed = _snap("charged_back", "2026-01-01T00:00:30.000-04:00", "reimbursed")
    for _ in range(3):  # redeliveries of the same state announce nothing more
        repo.apply_payment(reimbursed, now)
    # a stale fetch of the earlier detail changes nothing
    repo.apply_payment(_snap("charged_back", "2026-01-01T00:00:20.000-04:00", "in_process"), now)
    # an approval seen late never brings the order back
    repo.apply_payment(_snap("approved", "2026-01-01T00:00:40.000-04:00", "accredited"), now)
    order = repo.get("order-1")
    assert order["status"] == "charged_back"
    assert public_order(order)["chargeback"] == {"status_detail": "reimbursed"}
    updates = [e for e in _events(db) if e["type"] == "order.chargeback_updated"]
    assert [e["status_detail"] for e in updates] == ["reimbursed"]

    repo.apply_payment(_snap("charged_back", "2026-01-01T00:00:50.000-04:00", "settled"), now)
    repo.apply_payment(_snap("charged_back", "2026-01-01T00:01:00.000-04:00", "reimbursed"), now)
    updates = [e for e in _events(db) if e["type"] == "order.chargeback_updated"]
    assert [e["status_detail"] for e in updates] == ["reimbursed", "settled", "reimbursed"]
    assert len({e["event_id"] for e in updates}) == 3
    assert repo.get("order-1")["status"] == "charged_back"


def test_fraud_alert_is_recorded_once_with_one_event_and_can_be_cleared(db):
    alerts = FraudAlerts(db, emit_events=True)
    now = datetime.now(UTC)
    first = alerts.record("order-1", "p1", now)
    second = alerts.record("order-1", "p1", now + timedelta(seconds=5))
    assert first.new and not second.new
    order = OrderRepository(db).get("order-1")
    assert public_order(order)["fraud_alert"] == {"received_at": now.isoformat()}
    assert [e["type"] for e in Outbox(db).pending("order-1")] == ["order.fraud_alert"]

    result = alerts.clear("order-1", now + timedelta(minutes=1))
    assert result["cleared"] and not result["fulfilment_pending"]
    order = OrderRepository(db).get("order-1")
    assert public_order(order)["fraud_alert"] is None
    assert order["fraud_alert_cleared"]["payment_id"] == "p1"
    with pytest.raises(LookupError):
        alerts.clear("order-1", now)
    # an alert that comes back after a clear is recorded again, without a second event
    assert alerts.record("order-1", "p1", now + timedelta(minutes=2)).new
    assert [e["type"] for e in _events(db)] == ["order.fraud_alert"]


def test_fraud_alert_for_an_unknown_order_is_not_recorded(db):
    with pytest.raises(OrderNotFound):
        FraudAlerts(db).record("order-nope", "p9", datetime.now(UTC))
    assert [d.id for d in db.collection("orders").stream()] == ["order-1"]


def test_clearing_an_alert_makes_a_withheld_fulfilment_claimable_at_once(db):
    repo = OrderRepository(db)
    now = datetime.now(UTC)
    FraudAlerts(db).record("order-1", "p1", now)
    applied = repo.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00",
                                       "accredited"), now)
    assert applied.decision.fulfil and applied.order.get("fraud_alert")  # effects withheld
    assert repo.claim_fulfilment("order-1", now) is None  # its lease still runs
    result = FraudAlerts(db).clear("order-1", now)
    assert result["fulfilment_pending"] and result["payment_id"] == "p1"
    assert repo.claim_fulfilment("order-1", now) is not None


def test_dispute_and_fraud_events_are_written_where_no_shop_url_is_configured(db):
    """Whether the shop hears of a transition must not depend on the process that applied it:
    without a shop URL the events are still written, with a TTL from their creation."""
    now = datetime.now(UTC)
    repo = OrderRepository(db, emit_events=False)
    repo.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00", "accredited"), now)
    repo.apply_payment(_snap("charged_back", "2026-01-01T00:00:20.000-04:00", "in_process"), now)
    repo.apply_payment(_snap("charged_back", "2026-01-01T00:00:30.000-04:00", "reimbursed"), now)
    FraudAlerts(db, emit_events=False).record("order-1", "p1", now)
    events = _events(db)
    assert sorted(e["type"] for e in events) == sorted([
        "order.paid", "order.charged_back", "order.chargeback_updated", "order.fraud_alert"])
    assert all(e["state"] == "pending" and e["expires_at"] > now for e in events)
