"""create_payment's combined read and opening commit (``CheckoutDocuments``): the Firestore
adapter on the emulator and the in-memory fake answer alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.adapters.store.checkout_io import Opening, ReadPlan
from shared.adapters.store.limits import COUNTERS
from shared.domain.limits import Counter, Rate, counter
from shared.usecases import ports
from tests.support.fakes.checkout_io import FakeCheckoutDocuments
from tests.support.fakes.memory import Memory

NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
IP = counter("ip", "a" * 64, Rate(100, 600), NOW)
PAYER = counter("payer", "b" * 64, Rate(10, 3600), NOW)


@dataclass
class Backend:
    name: str
    documents: ports.CheckoutDocuments
    write: Any  # (collection, doc_id, fields)
    read: Any  # (collection, doc_id) -> dict | None


def _fake() -> Backend:
    memory = Memory()
    return Backend("fake", FakeCheckoutDocuments(memory, 3600),
                   lambda c, d, f: memory.collection(c).__setitem__(d, dict(f)), memory.read)


def _firestore(request: pytest.FixtureRequest) -> Backend:
    from shared.adapters.store.checkout_io import CheckoutDocuments

    emulator = request.getfixturevalue("firestore_emulator")
    db = emulator.client(request.getfixturevalue("firestore_project"))
    db.collection("warm-up").document("x").get(timeout=60)  # the JVM's first answer

    def read(collection: str, doc_id: str) -> dict[str, Any] | None:
        snap = db.collection(collection).document(doc_id).get()
        return snap.to_dict() if snap.exists else None

    return Backend("firestore", CheckoutDocuments(db, 3600),
                   lambda c, d, f: db.collection(c).document(d).set(f), read)


@pytest.fixture(params=["fake", "firestore"])
def backend(request: pytest.FixtureRequest) -> Backend:
    return _fake() if request.param == "fake" else _firestore(request)


def _draft(order_id: str) -> dict[str, Any]:
    return {"order_id": order_id, "status": "pending", "amount": "10.00", "currency": "BRL",
            "items": [], "created_at": NOW, "updated_at": NOW, "attempt_keys": ["mp-1"]}


def _opening(order_id: str, key: str | None = "k1",
             counters: tuple[Counter, ...] = (IP, PAYER)) -> Opening:
    return Opening(_draft(order_id), NOW, counters, key, "body-a")


def _count(backend: Backend, c: Counter) -> int:
    return int((backend.read(COUNTERS, c.doc_id) or {}).get("count") or 0)


def test_one_read_returns_products_order_record_and_counts(backend):
    backend.write("products", "tee", {"title": "Tee", "unit_price": "59.9", "currency": "brl",
                                      "active": True, "category_id": "fashion"})
    backend.write("products", "bad", {"title": "Bad", "unit_price": "ten", "currency": "BRL"})
    backend.write("orders", "ord_1", _draft("ord_1"))
    backend.write("idempotency", "k1", {"status": "completed", "payload_hash": "body-a"})
    backend.write(COUNTERS, IP.doc_id, {"kind": "ip", "count": 7})
    seen = backend.documents.read(ReadPlan(("tee", "bad", "none"), "ord_1", "k1", (IP, PAYER)))
    assert sorted(seen.products) == ["tee"]
    assert (seen.products["tee"].unit_price, seen.products["tee"].currency) == (
        Decimal("59.90"), "BRL")
    assert seen.order is not None and seen.order["amount"] == "10.00"
    assert seen.record == {"status": "completed", "payload_hash": "body-a"}
    assert seen.counts == {IP.doc_id: 7, PAYER.doc_id: 0}  # every counter read, 0 if none yet
    nothing = backend.documents.read(ReadPlan((), "ord_none", "k-none", ()))
    assert (nothing.products, nothing.order, nothing.record, nothing.counts) == ({}, None, None, {})


def test_an_opening_writes_counters_record_and_draft_at_once(backend):
    assert backend.documents.open_order(_opening("ord_new1")) is True
    assert backend.read("orders", "ord_new1")["status"] == "pending"
    record = backend.read("idempotency", "k1")
    assert (record["status"], record["order_id"], record["payload_hash"]) == (
        "in_progress", "ord_new1", "body-a")
    assert (_count(backend, IP), _count(backend, PAYER)) == (1, 1)
    assert backend.read(COUNTERS, IP.doc_id)["expires_at"] > NOW
    # without a key: counters and draft only
    assert backend.documents.open_order(_opening("ord_new2", key=None)) is True
    assert backend.read("orders", "ord_new2") is not None
    assert (_count(backend, IP), _count(backend, PAYER)) == (2, 2)


def test_an_opening_whose_key_exists_writes_nothing(backend):
    backend.write("idempotency", "k1", {"status": "failed", "payload_hash": "body-a",
                                        "order_id": "ord_earlier"})
    assert backend.documents.open_order(_opening("ord_new3")) is False
    assert backend.read("orders", "ord_new3") is None
    assert backend.read("idempotency", "k1")["order_id"] == "ord_earlier"
    assert (_count(backend, IP), _count(backend, PAYER)) == (0, 0)


def test_an_opening_sent_again_after_it_applied_is_true_and_counts_once(backend):
    """What a client retry of a commit whose answer was lost finds: its own documents."""
    opening = _opening("ord_new4")
    assert backend.documents.open_order(opening) is True
    assert backend.documents.open_order(opening) is True
    assert (_count(backend, IP), _count(backend, PAYER)) == (1, 1)


def test_racing_openings_of_one_key_have_one_winner(backend):
    def one(i: int) -> bool:
        return backend.documents.open_order(_opening(f"ord_race{i}", counters=(IP,)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(one, range(8)))
    assert outcomes.count(True) == 1
    winner = f"ord_race{outcomes.index(True)}"
    assert backend.read("idempotency", "k1")["order_id"] == winner
    assert [i for i in range(8) if backend.read("orders", f"ord_race{i}")] == [
        outcomes.index(True)]
    assert _count(backend, IP) == 1  # the losers wrote nothing
