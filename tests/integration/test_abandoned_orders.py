"""Abandoned orders against the simulator, the Firestore emulator and the Cloud Tasks
emulator: junk never starves the real order, junk expires, money after expiry is an anomaly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.adapters.mercadopago.gateway import gateway
from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store.orders import OrderRepository
from shared.adapters.tasks import TaskQueue
from shared.platform.config import Settings
from shared.usecases.reconcile import Reconciler
from tests.integration.test_reconcile_bounds import TOKEN, _payment, services

__all__ = ["services"]

JUNK = 5000


def _order(order_id: str, created: datetime, **extra: object) -> dict[str, object]:
    return {"order_id": order_id, "status": "pending", "amount": "10.00", "currency": "BRL",
            "items": [], "created_at": created, "updated_at": created, "last_payment_id": None,
            "last_payment": None, "payment_ids": [], "attempt_keys": [], "history": [], **extra}


def test_a_lost_notification_is_found_before_5000_junk_orders(
        services, firestore_project, firestore_emulator, monkeypatch):
    sim, tasks = services
    db = firestore_emulator.client(firestore_project)
    now = datetime.now(UTC)
    for start in range(0, JUNK, 500):  # anonymous orders nobody paid, older than the real one
        batch = db.batch()
        for i in range(start, start + 500):
            batch.set(db.collection("orders").document(f"ord_junk{i:05d}"),
                      _order(f"ord_junk{i:05d}", now - timedelta(days=2, seconds=JUNK - i)))
        batch.commit()
    real = "ord_real"
    payment_id = _payment(sim.url, real)  # approved at Mercado Pago; its notification was lost
    db.collection("orders").document(real).set(_order(
        real, now - timedelta(hours=1), last_payment_id=payment_id,
        last_payment={"id": payment_id, "status": "approved", "status_detail": "accredited"}))

    settings = Settings.from_env({
        "GOOGLE_CLOUD_PROJECT": firestore_project, "FULFILL_URL": "http://127.0.0.1:9/",
        "TASKS_SERVICE_ACCOUNT": "tasks@x.iam.gserviceaccount.com",
        "RECONCILE_TIME_BUDGET_SECONDS": "3", "RECONCILE_PENDING_AFTER_MINUTES": "15"})
    queue = TaskQueue(firestore_project, "us-central1", tasks.grpc_target)
    monkeypatch.setattr(queue, "queue_path", lambda q: tasks.queue_path(q))
    reconciler = Reconciler.on_firestore(settings, db, lambda: gateway(TOKEN, sim.url, 5.0), lambda: queue)

    # An empty payments window: only the pending-order pass can find the payment. Runs are
    # bounded by time, not count: on a loaded machine a 3-second run may end before its pending
    # pass looks at any order, so the claim is about order, not speed: the run that finds the
    # payment finds it before wading through the junk (live orders first).
    report = reconciler.run(since=timedelta(0))
    runs = 1
    while payment_id not in report.corrected and runs < 20:
        report = reconciler.run(since=timedelta(0))
        runs += 1
    assert payment_id in report.corrected
    # the run stopped on its time budget long before it got through the junk
    assert 1 <= report.orders_checked < JUNK

    # The junk it looks at expires: cancelled, with its event, kept until the TTL deletes it.
    # On a loaded machine the first run's budget may end before the expiry pass cancels any;
    # the next runs start where it stopped, so a few bounded runs always get there.
    expired, runs = report.orders_expired, 1
    while expired == 0 and runs < 20:
        expired += reconciler.run(since=timedelta(0)).orders_expired
        runs += 1
    assert expired >= 1
    oldest = db.collection("orders").document("ord_junk00000").get().to_dict()
    assert oldest["status"] == "cancelled" and oldest["expires_at"] > now
    assert oldest["history"][-1]["by"] == "expiry"
    events = [e.to_dict() for e in db.collection("outbox").stream()]
    assert {"order.cancelled"} == {e["type"] for e in events}
    assert "ord_junk00000" in {e["order_id"] for e in events}
    assert db.collection("orders").document(real).get().to_dict()["status"] == "pending"


def test_money_for_an_expired_order_is_an_anomaly_and_the_order_is_kept(
        firestore_project, firestore_emulator):
    db = firestore_emulator.client(firestore_project)
    now = datetime.now(UTC)
    db.collection("orders").document("ord_gone").set(_order(
        "ord_gone", now - timedelta(days=2), status="cancelled", expired_at=now,
        expires_at=now + timedelta(days=30)))
    snap = PaymentSnapshot(id="77", status="approved", status_detail="accredited",
                           amount=Decimal("10.00"), currency="BRL", external_reference="ord_gone",
                           date_created="2026-01-01T00:00:00.000-04:00",
                           date_last_updated="2026-01-01T00:00:01.000-04:00")
    result = OrderRepository(db).apply_payment(snap, now)
    assert result.decision.anomaly is not None
    assert result.decision.anomaly.value == "paid_after_expiry"
    order = db.collection("orders").document("ord_gone").get().to_dict()
    assert order["status"] == "cancelled" and order["review_required"] == "paid_after_expiry"
    assert "expires_at" not in order  # the TTL no longer deletes it
    anomaly = db.collection("anomalies").document("paid_after_expiry-77").get().to_dict()
    assert anomaly["kind"] == "paid_after_expiry" and anomaly["order_id"] == "ord_gone"
    assert db.collection("fulfilments").document("ord_gone").get().exists is False
