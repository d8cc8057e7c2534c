"""The store's commits through ``store.writes.RawBatch`` leave, in the Firestore emulator, the
documents the client's ``WriteBatch`` leaves: each store write path runs once with each batch
(in two projects of the emulator) and every document is read back and compared. A raw commit
also fails as ``WriteBatch.commit`` fails (AlreadyExists, FailedPrecondition, NotFound)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store import checkout_io, limits, orders, outbox
from shared.adapters.store.checkout_io import CheckoutDocuments, Opening
from shared.adapters.store.limits import LimitStore
from shared.adapters.store.orders import OrderRepository
from shared.adapters.store.outbox import Outbox
from shared.adapters.store.writes import RawBatch
from shared.domain.limits import Rate, counter

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 3, 4, 5, 678901, tzinfo=UTC)
IP = counter("ip", "a" * 64, Rate(100, 600), NOW)
PAYER = counter("payer", "b" * 64, Rate(10, 3600), NOW)
COLLECTIONS = ("orders", "payments", "outbox", "fulfilments", "anomalies",
               "processed_notifications", "rate_limits", "idempotency", "order_attempt_slots")


def _draft(order_id: str) -> dict[str, Any]:
    return {"order_id": order_id, "status": "pending", "amount": "200.00", "currency": "BRL",
            "items": [{"product_id": "p1", "quantity": 2, "unit_price": "100.00"}],
            "created_at": NOW, "updated_at": NOW, "expires_at": NOW + timedelta(days=1),
            "payer": {"type": None, "ok": True, "n": 1.5, "raw": b"\x00\x01"},
            "history": [], "payment_ids": []}


def _snap(status: str, updated: str, detail: str = "") -> PaymentSnapshot:
    return PaymentSnapshot(id="p1", status=status, status_detail=detail, amount=Decimal("200.00"),
                           currency="BRL", external_reference="order-1",
                           date_created="2026-01-01T00:00:00.000-04:00",
                           date_last_updated=updated)


def _scenario(db: Any) -> None:
    """Every switched store write path, with the preconditions each one uses."""
    docs = CheckoutDocuments(db, 3600)
    assert docs.open_order(Opening(_draft("order-1"), NOW, (IP, PAYER), "c" * 64, "body"))
    # AlreadyExists: a draft of this id is there, taken as this commit applied and re-sent
    assert docs.open_order(Opening(_draft("order-1"), NOW, (IP,), None, ""))
    store = LimitStore(db)
    assert store.commit([IP, PAYER], "slot-1", "order-1", NOW)
    assert not store.commit([IP], "slot-1", "order-2", NOW)  # the slot is taken
    repo = OrderRepository(db, emit_events=True)
    repo.record_attempt("order-1", {"id": "p1", "status": "pending", "at": NOW}, NOW,
                        (db.collection("idempotency").document("c" * 64),
                         {"state": "done", "answer": {"status": 201}}))
    repo.record_checkout("order-1", {"preference_id": "pref-1", "url": "u"}, NOW, None)
    repo.apply_payment(_snap("approved", "2026-01-01T00:00:10.000-04:00", "accredited"), NOW)
    repo.apply_payment(_snap("refunded", "2026-01-01T00:00:20.000-04:00"), NOW)
    box = Outbox(db)
    pending = [str(e["event_id"]) for e in box.pending("order-1")]
    box.mark_sent("order-1", pending[:1], NOW + timedelta(minutes=1), forget=["gone"])
    assert docs.open_order(Opening(_draft("order-2"), NOW, (), None, ""))
    repo.cancel_unpaid("order-2", NOW)


def _everything(db: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name in COLLECTIONS:
        for snap in db.collection(name).stream():
            found[f"{name}/{snap.id}"] = snap.to_dict()
    return found


def _library_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (checkout_io, limits, orders, outbox):
        monkeypatch.setattr(module, "RawBatch", lambda db: db.batch())


def test_store_paths_leave_the_documents_the_client_batch_leaves(
        firestore_project: str, firestore_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ours = firestore_emulator.client(firestore_project)
    _scenario(ours)
    with monkeypatch.context() as patched:
        _library_batches(patched)
        theirs = firestore_emulator.client(f"{firestore_project}-library")
        _scenario(theirs)
    mine, library = _everything(ours), _everything(theirs)
    assert len(mine) > 8
    # event ids are new uuids in each run: compare the outbox by content, the rest by id
    def keyed(found: dict[str, dict[str, Any]]) -> Any:
        plain = {k: v for k, v in found.items() if not k.startswith("outbox/")}
        events = sorted((repr(sorted((k, v) for k, v in d.items() if k != "event_id"))
                         for k, d in found.items() if k.startswith("outbox/")))
        return plain, events
    (mine_plain, mine_events), (lib_plain, lib_events) = keyed(mine), keyed(library)
    for doc in (*mine_plain.values(), *lib_plain.values()):
        doc.pop("unsent_events", None)  # event ids again
    assert mine_plain == lib_plain
    assert mine_events == lib_events


def test_raw_commit_fails_as_the_client_batch_fails(firestore_project: str,
                                                    firestore_emulator: Any) -> None:
    db = firestore_emulator.client(firestore_project)
    ref = db.collection("orders").document("x")
    result = ref.create({"a": 1})

    def both(stage: Any) -> list[type[BaseException] | None]:
        kinds: list[type[BaseException] | None] = []
        for batch in (db.batch(), RawBatch(db)):
            stage(batch)
            try:
                batch.commit(retry=None, timeout=10)
                kinds.append(None)
            except gexc.GoogleAPICallError as exc:
                kinds.append(type(exc))
        return kinds

    assert both(lambda b: b.create(ref, {"a": 2})) == [gexc.AlreadyExists] * 2
    stale = db.write_option(last_update_time=result.update_time - timedelta(seconds=1))
    assert both(lambda b: b.update(ref, {"a": 3}, option=stale)) == [gexc.FailedPrecondition] * 2
    missing = db.collection("orders").document("missing")
    assert both(lambda b: b.update(missing, {"a": firestore.Increment(1)})) == [gexc.NotFound] * 2
    assert both(lambda b: b.set(ref, {"n": firestore.Increment(1)}, merge=True)) == [None, None]
    assert ref.get().to_dict() == {"a": 1, "n": 2}
    results = RawBatch(db)
    results.update(ref, {"a": 4})
    (written,) = results.commit(retry=None, timeout=10)
    assert written.update_time == ref.get().update_time
