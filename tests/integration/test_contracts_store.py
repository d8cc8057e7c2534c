"""One suite, two implementations: the in-memory store fakes (tests/support/fakes) and the
Firestore adapters on the emulator must behave alike, so use-case unit tests on the fakes
say something true about production."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store.orders import OrderNotFound
from shared.usecases import ports
from tests.support.fakes.catalog import FakeCatalog
from tests.support.fakes.fraud_alerts import FakeFraudAlerts
from tests.support.fakes.idempotency import FakeIdempotency
from tests.support.fakes.ledger import FakeLedger
from tests.support.fakes.memory import Memory
from tests.support.fakes.operator_records import FakeOperatorRecords
from tests.support.fakes.orders import FakeOrderStore
from tests.support.fakes.outbox import FakeOutbox
from tests.support.fakes.reconcile_store import FakeReconcileStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Backend:
    """The ports on one implementation, and a raw read of a document for the checks."""

    name: str
    orders: ports.OrderStore
    make_orders: Any  # (**flags) -> ports.OrderStore on the same data
    ledger: ports.Ledger
    outbox: ports.Outbox
    records: ports.OperatorRecords
    alerts: ports.FraudAlertStore
    reconcile: ports.ReconcileStore
    catalog: ports.Catalog
    idempotency: ports.IdempotencyRecords
    write: Any  # (collection, doc_id, fields): seed a document as another writer would
    read: Any  # (collection, doc_id) -> dict | None


def _fake() -> Backend:
    memory = Memory()
    return Backend("fake", FakeOrderStore(memory),
                   lambda **flags: FakeOrderStore(memory, **flags), FakeLedger(memory, 7),
                   FakeOutbox(memory), FakeOperatorRecords(memory), FakeFraudAlerts(memory),
                   FakeReconcileStore(memory), FakeCatalog(memory), FakeIdempotency(memory, 3600),
                   lambda c, d, f: memory.collection(c).__setitem__(d, dict(f)), memory.read)


def _firestore(request: pytest.FixtureRequest) -> Backend:
    from shared.adapters.store.catalog import Catalog
    from shared.adapters.store.idempotency import IdempotencyStore
    from shared.adapters.store.ledger import Ledger
    from shared.adapters.store.operator_records import OperatorRecords
    from shared.adapters.store.orders import OrderRepository
    from shared.adapters.store.outbox import Outbox
    from shared.adapters.store.reconcile_store import ReconcileStore
    from shared.usecases.fraud_alerts import FraudAlerts

    emulator = request.getfixturevalue("firestore_emulator")
    db = emulator.client(request.getfixturevalue("firestore_project"))
    # the emulator's first answer can outlast the 5 s call timeout on a busy machine (JVM)
    db.collection("warm-up").document("x").get(timeout=60)

    def read(collection: str, doc_id: str) -> dict[str, Any] | None:
        snap = db.collection(collection).document(doc_id).get()
        return snap.to_dict() if snap.exists else None

    return Backend("firestore", OrderRepository(db),
                   lambda **flags: OrderRepository(db, **flags), Ledger(db, 7), Outbox(db),
                   OperatorRecords(db), FraudAlerts(db), ReconcileStore(db), Catalog(db),
                   IdempotencyStore(db, 3600),
                   lambda c, d, f: db.collection(c).document(d).set(f), read)


@pytest.fixture(params=["fake", "firestore"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return _fake() if request.param == "fake" else _firestore(request)


def _order(order_id: str = "ord_c1", amount: str = "200.00") -> dict[str, Any]:
    return {"order_id": order_id, "status": "pending", "amount": amount, "currency": "BRL",
            "items": [], "created_at": NOW, "updated_at": NOW, "history": []}


def _snap(status: str = "approved", detail: str = "accredited", second: int = 10,
          pid: str = "9001", amount: str = "200.00", order_id: str = "ord_c1",
          refunded: str = "0") -> PaymentSnapshot:
    return PaymentSnapshot(id=pid, status=status, status_detail=detail, amount=Decimal(amount),
                           currency="BRL", external_reference=order_id,
                           date_created="2026-03-01T08:00:00.000-04:00",
                           date_last_updated=f"2026-03-01T08:00:{second:02d}.000-04:00",
                           refunded_amount=Decimal(refunded))


def _events(backend: Backend, order_id: str = "ord_c1") -> list[str]:
    return [e["type"] for e in backend.outbox.pending(order_id)]


# -- order store ----------------------------------------------------------------------------
def test_a_draft_is_created_once_and_read_back(backend):
    assert backend.orders.create_draft(_order()) is True
    assert backend.orders.create_draft(_order()) is False
    assert backend.orders.get("ord_c1")["status"] == "pending"
    assert backend.orders.get("ord_none") is None


def test_only_a_draft_without_payment_attempts_is_deleted(backend):
    backend.orders.create_draft(_order("ord_a"))
    backend.orders.create_draft(_order("ord_b"))
    backend.orders.record_attempt("ord_b", {"id": "9001", "status": "rejected"}, NOW, None)
    backend.orders.delete_draft("ord_a")
    backend.orders.delete_draft("ord_b")
    backend.orders.delete_draft("ord_missing")  # nothing to do, no error
    assert backend.orders.get("ord_a") is None
    kept = backend.orders.get("ord_b")
    assert kept["payment_ids"] == ["9001"] and kept["last_payment"]["status"] == "rejected"


def test_a_payment_for_an_unknown_order_raises_order_not_found(backend):
    with pytest.raises(OrderNotFound):
        backend.orders.apply_payment(_snap(order_id="ord_ghost"), NOW)


def test_approval_pays_once_with_one_event_and_a_leased_fulfilment(backend):
    backend.orders.create_draft(_order())
    first = backend.orders.apply_payment(_snap(), NOW)
    assert (first.before.value, first.after.value) == ("pending", "paid")
    assert first.decision.fulfil and first.fulfilment_due and first.payment_changed
    again = backend.orders.apply_payment(_snap(), NOW + timedelta(seconds=1))
    assert again.after.value == "paid" and not again.decision.fulfil
    assert not again.payment_changed and not again.fulfilment_due  # lease still held
    assert _events(backend) == ["order.paid"]
    order = backend.orders.get("ord_c1")
    assert order["paid_by_payment_id"] == "9001" and order["last_payment"] is not None
    marker = backend.orders.fulfilment("ord_c1")
    assert marker["state"] == "pending" and marker["amount"] == "200.00"
    assert backend.read("payments", "9001")["status"] == "approved"


def test_a_stale_fetch_changes_nothing_after_a_newer_state(backend):
    backend.orders.create_draft(_order())
    backend.orders.apply_payment(_snap(second=10), NOW)
    refunded = backend.orders.apply_payment(_snap("refunded", "refunded", second=20,
                                                  refunded="200.00"), NOW)
    assert refunded.after.value == "refunded"
    stale = backend.orders.apply_payment(_snap(second=10), NOW)
    assert stale.after.value == "refunded" and not stale.payment_changed
    assert [h["status"] for h in backend.orders.get("ord_c1")["history"]] == ["paid", "refunded"]
    assert sorted(_events(backend)) == ["order.paid", "order.refunded"]


def test_concurrent_applies_make_exactly_one_fulfilment(backend):
    backend.orders.create_draft(_order())
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: backend.orders.apply_payment(_snap(), NOW), range(6)))
    assert sum(r.decision.fulfil for r in results) == 1
    assert all(r.after.value == "paid" for r in results)


def test_an_amount_mismatch_is_an_anomaly_and_no_fulfilment(backend):
    backend.orders.create_draft(_order())
    applied = backend.orders.apply_payment(_snap(amount="20.00"), NOW)
    assert applied.after.value == "pending" and applied.decision.anomaly.value == "amount_mismatch"
    assert backend.read("anomalies", "amount_mismatch-9001")["payment_amount"] == "20.00"
    assert backend.orders.get("ord_c1")["review_required"] == "amount_mismatch"
    assert backend.orders.fulfilment("ord_c1") is None


def test_a_fulfilment_is_claimed_once_its_lease_ran_out_and_finished_once(backend):
    backend.orders.create_draft(_order())
    backend.orders.apply_payment(_snap(), NOW)
    assert backend.orders.claim_fulfilment("ord_c1", NOW) is None  # the applier holds it
    later = NOW + timedelta(minutes=5)
    claimed = backend.orders.claim_fulfilment("ord_c1", later)
    assert claimed is not None and claimed["payment_id"] == "9001"
    assert backend.orders.claim_fulfilment("ord_c1", later) is None  # now ours
    backend.orders.finish_fulfilment("ord_c1", later, ["hook:ship"])
    assert backend.orders.fulfilment("ord_c1")["effects"] == ["hook:ship"]
    assert backend.orders.claim_fulfilment("ord_c1", later + timedelta(hours=1)) is None
    assert backend.orders.claim_fulfilment("ord_none", later) is None


def test_finishing_a_fulfilment_that_does_not_exist_fails(backend):
    with pytest.raises(gexc.NotFound):
        backend.orders.finish_fulfilment("ord_none", NOW, [])


def test_a_deferred_fulfilment_is_left_unleased_for_fulfill(backend):
    backend.orders.create_draft(_order())
    operator = backend.make_orders(defer_effects=True)
    applied = operator.apply_payment(_snap(), NOW)
    assert applied.decision.fulfil and not applied.fulfilment_due
    assert operator.fulfilment("ord_c1")["lease_until"] == NOW
    fulfill = backend.make_orders(emit_events=True, has_effects=True)
    assert fulfill.apply_payment(_snap(), NOW + timedelta(seconds=1)).fulfilment_due


def test_without_hooks_the_fulfilment_is_done_at_once(backend):
    backend.orders.create_draft(_order())
    plain = backend.make_orders(has_effects=False)
    applied = plain.apply_payment(_snap(), NOW)
    assert applied.decision.fulfil and not applied.fulfilment_due
    assert plain.fulfilment("ord_c1")["state"] == "done"


def test_an_unpaid_order_is_cancelled_once_with_its_event(backend):
    backend.orders.create_draft(_order())
    backend.orders.cancel_unpaid("ord_c1", NOW)
    assert backend.orders.get("ord_c1")["status"] == "cancelled"
    assert _events(backend) == ["order.cancelled"]
    with pytest.raises(OrderNotFound):
        backend.orders.cancel_unpaid("ord_c1", NOW)
    with pytest.raises(OrderNotFound):
        backend.orders.cancel_unpaid("ord_none", NOW)


def test_an_orphan_payment_is_recorded_once_and_refreshed(backend):
    assert backend.orders.record_orphan(_snap(order_id="ord_gone"), NOW) is True
    assert backend.orders.record_orphan(_snap("refunded", "refunded", order_id="ord_gone"),
                                        NOW) is False
    kept = backend.records.orphan("9001")
    assert kept["status"] == "refunded" and kept["external_reference"] == "ord_gone"


# -- ledger ------------------------------------------------------------------------------
def test_processed_ids_expire_and_dead_letters_keep_their_first_task(backend):
    backend.ledger.mark_processed("n-1", {"topic": "payment", "resource_id": "9001"}, NOW)
    processed = backend.read("processed_notifications", "n-1")
    assert processed["topic"] == "payment" and processed["expires_at"] == NOW + timedelta(days=7)
    backend.ledger.record_dead_letter("d-1", "unknown_payment", {"resource_id": "1"}, 3, NOW)
    backend.ledger.record_dead_letter("d-1", "order_not_found", {"resource_id": "2"}, 5,
                                      NOW + timedelta(minutes=1), "later")
    letter = backend.read("dead_letters", "d-1")
    assert (letter["reason"], letter["attempts"], letter["detail"]) == ("order_not_found", 5,
                                                                        "later")
    assert letter["task"] == {"resource_id": "1"} and letter["created_at"] == NOW
    assert letter["replayed"] is False


# -- outbox ------------------------------------------------------------------------------
def test_sent_events_leave_the_pending_list(backend):
    backend.orders.create_draft(_order())
    backend.orders.apply_payment(_snap(), NOW)
    backend.orders.apply_payment(_snap("refunded", "refunded", second=20, refunded="200.00"),
                                 NOW + timedelta(seconds=1))
    pending = backend.outbox.pending("ord_c1")
    assert [e["type"] for e in pending] == ["order.paid", "order.refunded"]  # oldest first
    ids = [e["event_id"] for e in pending]
    assert backend.read("orders", "ord_c1")["unsent_events"] == ids  # listed as staged
    assert [e["type"] for e in backend.outbox.unsent(ids[::-1] + ["evt_none"])] == [
        "order.paid", "order.refunded"]  # those still pending, oldest first
    backend.outbox.mark_sent("ord_c1", [ids[0]], NOW)
    assert _events(backend) == ["order.refunded"]
    assert backend.read("orders", "ord_c1")["unsent_events"] == [ids[1]]
    assert [e["type"] for e in backend.outbox.unsent(ids)] == ["order.refunded"]
    assert backend.outbox.pending("ord_other") == []
    with pytest.raises(gexc.NotFound):
        backend.outbox.mark_sent("ord_c1", ["evt_none"], NOW)
    backend.outbox.mark_sent("ord_c1", [ids[1]], NOW, forget=["evt_gone"])
    assert backend.read("orders", "ord_c1")["unsent_events"] == []
    assert backend.read("outbox", ids[1])["state"] == "sent"


def test_events_of_an_order_that_is_gone_are_marked_sent_all_the_same(backend):
    backend.orders.create_draft(_order())
    backend.orders.cancel_unpaid("ord_c1", NOW)
    [event] = backend.outbox.pending("ord_c1")
    assert backend.read("orders", "ord_c1")["unsent_events"] == [event["event_id"]]
    backend.orders.delete_draft("ord_c1")  # no payment: deleted (as the TTL would)
    backend.outbox.mark_sent("ord_c1", [event["event_id"]], NOW)
    assert backend.outbox.pending("ord_c1") == []
    assert backend.read("orders", "ord_c1") is None


def test_the_apply_commit_carries_the_processed_record_and_lists_its_events(backend):
    backend.orders.create_draft(_order())
    record = backend.ledger.processed_record("n-7", {"topic": "payment", "resource_id": "9001",
                                                     "order_id": "ord_c1"}, NOW)
    applied = backend.orders.apply_payment(_snap(), NOW, record)
    assert applied.processed is True
    assert backend.read("processed_notifications", "n-7") == {
        "topic": "payment", "resource_id": "9001", "order_id": "ord_c1", "processed_at": NOW,
        "expires_at": NOW + timedelta(days=7)}
    [staged] = applied.staged
    assert staged == {**backend.read("outbox", staged["event_id"]), "created_at": NOW}
    assert staged["type"] == "order.paid" and staged["state"] == "pending"
    # nothing to write: nothing written, the caller records the notification
    again = backend.orders.apply_payment(_snap(), NOW, backend.ledger.processed_record(
        "n-8", {"topic": "payment"}, NOW))
    assert (again.processed, again.staged) == (False, ())
    assert backend.read("processed_notifications", "n-8") is None
    assert again.order["unsent_events"] == [staged["event_id"]]


def test_an_order_from_before_the_list_lists_its_pending_events_with_the_next(backend):
    backend.orders.create_draft(_order())
    backend.orders.apply_payment(_snap(), NOW)
    [paid] = backend.outbox.pending("ord_c1")
    order = backend.read("orders", "ord_c1")
    del order["unsent_events"]  # as the previous version wrote it
    backend.write("orders", "ord_c1", order)
    applied = backend.orders.apply_payment(
        _snap("refunded", "refunded", second=20, refunded="200.00"), NOW)
    [refunded] = applied.staged
    assert backend.read("orders", "ord_c1")["unsent_events"] == [paid["event_id"],
                                                                 refunded["event_id"]]


def test_a_fraud_alert_lists_its_event_on_the_order(backend):
    backend.orders.create_draft(_order())
    backend.alerts.record("ord_c1", "9001", NOW)
    [alert] = backend.outbox.pending("ord_c1")
    assert backend.read("orders", "ord_c1")["unsent_events"] == [alert["event_id"]]


# -- operator records, fraud alerts --------------------------------------------------------
def test_a_refund_is_remembered_for_ten_minutes_per_request(backend):
    done = {"refund_id": "r1", "amount": "50.00", "refund_status": "approved"}
    backend.records.remember_refund("ord_c1", Decimal("50.00"), done, NOW)
    assert backend.records.recent_refund("ord_c1", Decimal("50.00"),
                                         NOW + timedelta(minutes=9))["refund_id"] == "r1"
    assert backend.records.recent_refund("ord_c1", Decimal("50.00"),
                                         NOW + timedelta(minutes=10)) is None
    assert backend.records.recent_refund("ord_c1", None, NOW) is None


def test_an_orphan_is_marked_refunded_and_payments_are_read_back(backend):
    backend.orders.record_orphan(_snap(order_id="ord_gone"), NOW)
    backend.records.mark_orphan_refunded("9001", {"refund_id": "r1"}, NOW)
    assert backend.records.orphan("9001")["resolution"] == "refunded"
    assert backend.records.orphan("9002") is None
    with pytest.raises(gexc.NotFound):
        backend.records.mark_orphan_refunded("9002", {}, NOW)
    backend.orders.create_draft(_order())
    backend.orders.apply_payment(_snap(pid="9003"), NOW)
    assert backend.records.payment("9003")["status"] == "approved"
    assert backend.records.payment("9004") is None


def test_a_fraud_alert_is_recorded_once_with_one_event(backend):
    with pytest.raises(OrderNotFound):
        backend.alerts.record("ord_none", "9001", NOW)
    backend.orders.create_draft(_order())
    assert backend.alerts.record("ord_c1", "9001", NOW).new is True
    assert backend.alerts.record("ord_c1", "9001", NOW).new is False
    assert backend.orders.get("ord_c1")["fraud_alert"]["payment_id"] == "9001"
    assert _events(backend) == ["order.fraud_alert"]


# -- reconcile's store -------------------------------------------------------------------------
def _aged(backend: Backend, order_id: str, minutes: int, last: str | None = None) -> None:
    order = {**_order(order_id), "created_at": NOW - timedelta(minutes=minutes)}
    backend.orders.create_draft(order)
    if last is not None:
        backend.orders.record_attempt(order_id, {"id": f"p-{order_id}", "status": last}, NOW,
                                      None)


def test_cursors_are_saved_and_read_back(backend):
    assert backend.reconcile.cursor("payments") == {}
    backend.reconcile.save_cursor("payments", {"resume_from": NOW, "seen_at_resume": ["1"]})
    backend.reconcile.save_cursor("payments", {"resume_from": NOW, "truncated": False})
    assert backend.reconcile.cursor("payments") == {"resume_from": NOW, "truncated": False}


def test_pending_orders_page_oldest_first_from_a_cursor(backend):
    for order_id, minutes in (("ord_p1", 50), ("ord_p2", 40), ("ord_p3", 30), ("ord_new", 1)):
        _aged(backend, order_id, minutes)
    backend.orders.cancel_unpaid("ord_p2", NOW)
    threshold = NOW - timedelta(minutes=10)
    first = backend.reconcile.pending_orders(threshold, None, 1)
    assert [o["order_id"] for o, _ in first] == ["ord_p1"]
    rest = backend.reconcile.pending_orders(threshold, first[0][0]["created_at"], 10)
    assert [o["order_id"] for o, _ in rest] == ["ord_p3"]


def test_live_pending_orders_are_those_whose_last_attempt_may_still_pay(backend):
    _aged(backend, "ord_live_old", 50, "in_process")
    _aged(backend, "ord_live_new", 40, "pending")
    _aged(backend, "ord_refused", 45, "rejected")
    _aged(backend, "ord_junk", 48)
    _aged(backend, "ord_recent", 1, "pending")
    live = backend.reconcile.live_pending_orders(NOW - timedelta(minutes=10), 10)
    assert [o["order_id"] for o, _ in live] == ["ord_live_new", "ord_live_old"]


def test_stored_payments_are_read_in_one_call(backend):
    backend.orders.create_draft(_order())
    backend.orders.apply_payment(_snap(pid="9001"), NOW)
    stored = backend.reconcile.stored_payments(["9001", "9999"])
    assert list(stored) == ["9001"] and stored["9001"]["status"] == "approved"
    assert backend.reconcile.stored_payments([]) == {}


def test_an_abandoned_order_expires_once_unless_it_changed_since_it_was_read(backend):
    _aged(backend, "ord_a", 50)
    _aged(backend, "ord_b", 50)
    threshold = NOW - timedelta(minutes=10)
    (a, a_read), (b, b_read) = backend.reconcile.pending_orders(threshold, None, 10)
    assert backend.reconcile.expire(a, a_read, NOW, ttl_from_creation=True) is True
    expired = backend.orders.get("ord_a")
    assert expired["status"] == "cancelled" and expired["expired_at"] == NOW
    assert expired["expires_at"] == NOW + timedelta(days=30)
    assert _events(backend, "ord_a") == ["order.cancelled"]
    assert expired["unsent_events"] == [e["event_id"] for e in backend.outbox.pending("ord_a")]
    assert backend.reconcile.expire(a, a_read, NOW, ttl_from_creation=True) is False
    backend.orders.record_attempt("ord_b", {"id": "7", "status": "pending"}, NOW, None)
    assert backend.reconcile.expire(b, b_read, NOW, ttl_from_creation=True) is False
    assert backend.orders.get("ord_b")["status"] == "pending"


# -- checkout's stores ----------------------------------------------------------------------
def test_the_catalog_loads_only_well_formed_products(backend):
    backend.write("products", "tee", {"title": "Tee", "unit_price": "59.9", "currency": "brl",
                                      "active": True, "category_id": "fashion"})
    backend.write("products", "mug", {"title": "Mug", "unit_price": "10.00", "currency": "BRL"})
    backend.write("products", "free", {"title": "Free", "unit_price": "0", "currency": "BRL"})
    backend.write("products", "bad", {"title": "Bad", "unit_price": "ten", "currency": "BRL"})
    backend.write("products", "odd", {"title": "Odd", "unit_price": "1.00", "currency": "REAL"})
    found = backend.catalog.load(["tee", "mug", "free", "bad", "odd", "none"])
    assert sorted(found) == ["mug", "tee"]
    tee = found["tee"]
    assert (tee.unit_price, tee.currency, tee.active, tee.category_id) == (
        Decimal("59.90"), "BRL", True, "fashion")
    assert found["mug"].active is False and found["mug"].category_id is None


def test_an_idempotency_key_starts_once_then_is_in_progress_reused_or_replayed(backend):
    from shared.adapters.store.idempotency import InProgress, KeyReused, Replay, Started

    idem = backend.idempotency
    assert idem.begin("k1", "body-a", "ord_first", NOW) == Started("ord_first", resumed=False)
    assert isinstance(idem.begin("k1", "body-a", "ord_other", NOW), InProgress)
    assert isinstance(idem.begin("k1", "body-b", "ord_other", NOW), KeyReused)
    backend.orders.create_draft(_order("ord_first"))
    backend.orders.record_attempt("ord_first", {"id": "9001", "status": "approved"}, NOW,
                                  (idem.ref("k1"), idem.completion(201, {"order_id": "ord_first"})))
    assert idem.begin("k1", "body-a", "ord_other", NOW) == Replay(201, {"order_id": "ord_first"})
    assert isinstance(idem.begin("k1", "body-b", "ord_other", NOW), KeyReused)
    assert idem.begin("k1", "body-a", "ord_other", NOW) == Replay(201, {"order_id": "ord_first"})


def test_a_failed_or_abandoned_key_resumes_the_same_order_and_an_expired_one_starts_over(
        backend):
    from shared.adapters.store.idempotency import Started

    idem = backend.idempotency
    idem.begin("k2", "body", "ord_first", NOW)
    idem.fail("k2")
    assert idem.begin("k2", "body", "ord_other", NOW) == Started("ord_first", resumed=True)
    later = NOW + timedelta(minutes=1)  # the owner's in-progress window ran out
    assert idem.begin("k2", "body", "ord_other", later) == Started("ord_first", resumed=True)
    expired = NOW + timedelta(hours=2)  # past the record's TTL (3600 s here)
    assert idem.begin("k2", "body", "ord_new", expired) == Started("ord_new", resumed=False)
    idem.fail("k-never-begun")  # nothing to mark, no error


def test_a_repayment_remembers_its_attempt_key_once(backend):
    backend.orders.create_draft({**_order(), "attempt_keys": ["mp-1"]})
    backend.orders.remember_attempt_key("ord_c1", "mp-2")
    backend.orders.remember_attempt_key("ord_c1", "mp-2")
    assert backend.orders.get("ord_c1")["attempt_keys"] == ["mp-1", "mp-2"]
    with pytest.raises(gexc.NotFound):
        backend.orders.remember_attempt_key("ord_none", "mp-3")
