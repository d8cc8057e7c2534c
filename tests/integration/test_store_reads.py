"""``store.reads`` against the Firestore emulator: the unary read answers what
``DocumentReference.get`` answered (data, times, missing documents, errors), and the store's
adapters read documents without the streaming ``BatchGetDocuments``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.base_document import DocumentSnapshot

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store import reads
from shared.adapters.store.catalog import load_products
from shared.adapters.store.client import CALL_TIMEOUT, RETRY, UNAVAILABLE
from shared.adapters.store.idempotency import IdempotencyStore
from shared.adapters.store.limits import LimitStore
from shared.adapters.store.orders import OrderRepository
from shared.adapters.store.reads import read, read_all
from shared.domain.limits import Rate, counter
from tests.support.firestore import emulator_client
from tests.support.functions import closed_port

pytestmark = pytest.mark.integration


@pytest.fixture
def db(firestore_project: str, firestore_emulator: Any) -> Any:
    return firestore_emulator.client(firestore_project)


def _order(now: datetime) -> dict[str, Any]:
    return {"order_id": "order-1", "status": "pending", "amount": "1234.50",
            "currency": "BRL", "created_at": now, "expires_at": now + timedelta(days=1),
            "items": [{"product_id": "p1", "quantity": 2, "unit_price": "617.25"}],
            "last_payment": {"id": "77", "status": "approved", "payer": {"type": None}},
            "payment_ids": ["77", "78"], "note": None, "live": False, "tries": 3}


def _same(snap: DocumentSnapshot[Any], streamed: DocumentSnapshot[Any]) -> None:
    assert isinstance(snap, DocumentSnapshot)
    assert snap.exists == streamed.exists
    assert snap.to_dict() == streamed.to_dict()
    assert snap.id == streamed.id and snap.reference.path == streamed.reference.path
    assert snap.create_time == streamed.create_time
    assert snap.update_time == streamed.update_time


def test_read_answers_the_document_as_get_does(db: Any) -> None:
    now = datetime.now(UTC)
    ref = db.collection("orders").document("order-1")
    ref.create(_order(now))
    snap = read(ref)
    _same(snap, ref.get())
    data = snap.to_dict()
    assert data["amount"] == "1234.50" and Decimal(data["amount"]) == Decimal("1234.50")
    assert data["created_at"] == now and data["created_at"].tzinfo is not None
    assert data["items"][0] == {"product_id": "p1", "quantity": 2, "unit_price": "617.25"}
    assert data["last_payment"]["payer"] == {"type": None}
    assert data["payment_ids"] == ["77", "78"] and data["note"] is None
    assert snap.update_time is not None and snap.create_time is not None
    assert snap.read_time is not None and snap.read_time >= snap.update_time


def test_a_missing_document_reads_as_not_existing(db: Any) -> None:
    ref = db.collection("orders").document("nothing-here")
    snap = read(ref)
    _same(snap, ref.get())
    assert snap.exists is False and snap.to_dict() is None and snap.update_time is None
    assert snap.id == "nothing-here" and snap.reference is ref


@pytest.mark.parametrize("doc_id", ["a b", "ü-ñ", "a#b?c&d=e", "a%2Fb", "x" * 1000])
def test_odd_document_ids_read_like_any_other(db: Any, doc_id: str) -> None:
    ref = db.collection("products").document(doc_id)
    assert read(ref).exists is False
    ref.create({"title": doc_id})
    snap = read(ref)
    assert snap.exists and snap.id == doc_id and snap.to_dict() == {"title": doc_id}


@pytest.mark.parametrize("doc_id", ["__reserved__", "..", "."])
def test_an_invalid_document_id_is_refused_as_get_refuses_it(db: Any, doc_id: str) -> None:
    ref = db.collection("products").document(doc_id)
    with pytest.raises(gexc.InvalidArgument) as streamed:
        ref.get(retry=RETRY, timeout=CALL_TIMEOUT)
    with pytest.raises(gexc.InvalidArgument) as unary:
        read(ref)
    assert type(unary.value) is type(streamed.value)


def test_update_time_of_a_read_is_a_working_precondition(db: Any) -> None:
    ref = db.collection("fulfilments").document("order-1")
    ref.create({"state": "pending"})
    first = read(ref)
    ref.update({"state": "leased"}, option=db.write_option(last_update_time=first.update_time))
    with pytest.raises(gexc.FailedPrecondition):  # first.update_time is stale now
        ref.update({"state": "done"}, option=db.write_option(last_update_time=first.update_time))
    second = read(ref)
    assert second.update_time > first.update_time and second.to_dict() == {"state": "leased"}
    ref.delete(option=db.write_option(last_update_time=second.update_time))
    assert read(ref).exists is False


# up to UNARY_UP_TO documents (unary reads) and above it (one get_all), some of them missing
@pytest.mark.parametrize(("count", "present"), [
    (1, []), (1, [0]), (2, [1]), (2, [0, 1]), (3, []), (3, [0, 2]), (5, [1, 3, 4]),
    (5, [0, 1, 2, 3, 4])])
def test_read_all_answers_in_the_order_given_with_missing_entries(db: Any, count: int,
                                                                  present: list[int]) -> None:
    refs = [db.collection("payments").document(f"p{i}") for i in range(count)]
    for i in present:
        refs[i].create({"n": i})
    # reversed, so that the answer's order cannot be the order of creation
    wanted = list(reversed(refs))
    snaps = read_all(wanted)
    assert [s.reference.path for s in snaps] == [r.path for r in wanted]
    assert [s.exists for s in snaps] == [(count - 1 - k) in present for k in range(count)]
    assert [s.to_dict() for s in snaps] == [r.get().to_dict() for r in wanted]
    assert all(isinstance(s, DocumentSnapshot) for s in snaps)


@pytest.mark.parametrize("count", [2, 4])
def test_read_all_answers_a_repeated_reference_each_time(db: Any, count: int) -> None:
    refs = [db.collection("products").document(f"p{i}") for i in range(count)]
    refs[0].create({"n": 0})
    wanted = [refs[0], *refs, refs[0]]
    snaps = read_all(wanted)
    assert [s.id for s in snaps] == [r.id for r in wanted]
    assert [s.exists for s in snaps] == [True, True, *[False] * (count - 1), True]
    assert read_all([]) == []


def test_the_threshold_picks_the_rpc(db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_rpcs(db, monkeypatch)
    refs = [db.collection("payments").document(f"p{i}") for i in range(reads.UNARY_UP_TO + 1)]
    read_all(refs[:reads.UNARY_UP_TO])
    assert calls == {"get_document": reads.UNARY_UP_TO}
    read_all(refs)
    assert calls == {"get_document": reads.UNARY_UP_TO, "batch_get_documents": 1}


def test_a_missing_database_is_an_error_not_a_missing_document(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_database(**_: Any) -> Any:
        raise gexc.NotFound("The database (default) does not exist for project p Please "
                            "visit https://console.cloud.google.com/datastore/setup?project=p")

    monkeypatch.setattr(db._firestore_api, "get_document", no_database)
    with pytest.raises(gexc.NotFound):
        read(db.collection("orders").document("order-1"))


def _unavailable_error(call: Callable[[], object]) -> type[BaseException]:
    with pytest.raises(UNAVAILABLE) as caught:
        call()
    return type(caught.value)


def test_an_unreachable_firestore_raises_what_get_raised(firestore_project: str) -> None:
    down = emulator_client(f"127.0.0.1:{closed_port()}", firestore_project)
    refs = [down.collection("orders").document(f"o{i}") for i in range(4)]
    short = RETRY.with_timeout(0.5)  # the same policy, a shorter deadline for the test
    before = _unavailable_error(lambda: refs[0].get(retry=short, timeout=0.5))
    assert _unavailable_error(lambda: read(refs[0], retry=short, timeout=0.5)) is before
    for some in (refs[:2], refs):  # unary reads, then one get_all
        old = _unavailable_error(lambda: list(down.get_all(some, retry=short, timeout=0.5)))
        assert _unavailable_error(lambda: read_all(some, retry=short, timeout=0.5)) is old
    # with the store's own policy too (its 5 s deadline): what makes callers answer 503
    assert issubclass(_unavailable_error(lambda: read(refs[0])), UNAVAILABLE)


# -- the store's adapters read documents without the streaming RPC -------------------------

def _count_rpcs(db: Any, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the GAPIC read calls the client makes (they still go to the emulator)."""
    calls: Counter[str] = Counter()
    api = db._firestore_api
    for name in ("get_document", "batch_get_documents", "run_query"):
        real = getattr(api, name)

        def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(api, name, counted)
    return calls


def _payment(status: str, updated: str) -> PaymentSnapshot:
    return PaymentSnapshot(id="77", status=status, status_detail="accredited",
                           amount=Decimal("1234.50"), currency="BRL",
                           external_reference="order-1",
                           date_created="2026-01-01T00:00:00.000-04:00",
                           date_last_updated=updated)


def test_the_store_reads_one_document_unary_and_several_in_one_batch(
        db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    db.collection("orders").document("order-1").create(_order(now))
    db.collection("products").document("p1").create(
        {"title": "P", "unit_price": "617.25", "currency": "BRL", "active": True})
    calls = _count_rpcs(db, monkeypatch)
    repo = OrderRepository(db)
    assert repo.get("order-1") is not None and repo.get("missing") is None
    applied = repo.apply_payment(_payment("approved", "2026-01-01T00:00:10.000-04:00"), now)
    assert applied.after.value == "paid" and applied.fulfilment_due
    again = repo.apply_payment(_payment("approved", "2026-01-01T00:00:10.000-04:00"), now)
    assert not again.payment_changed
    assert repo.fulfilment("order-1") is not None
    assert repo.claim_fulfilment("order-1", now + timedelta(minutes=5)) is not None
    repo.delete_draft("missing")
    store = IdempotencyStore(db, ttl_seconds=3600)
    store.fail("k" * 64)  # a write: no read
    rate = Rate(count=5, seconds=60)
    counts = LimitStore(db).counts([counter("ip", "s1", rate, now), counter("payer", "s2", rate,
                                                                            now)])
    assert counts == {}
    assert set(load_products(db, ["p1", "p2"])) == {"p1"}
    # Several documents: one BatchGet each (the two applies' order + payment record, the two
    # counters, the two products); every single-document read is unary.
    assert calls["batch_get_documents"] == 4, calls
    assert calls["get_document"] == 6, calls


@pytest.mark.parametrize("count", [1, 3])
def test_to_dict_answers_a_copy_the_caller_may_change(db: Any, count: int) -> None:
    # The snapshot keeps the data it decoded without a defensive copy; to_dict() still hands
    # each caller its own copy, as the client's DocumentSnapshot does.
    now = datetime.now(UTC)
    refs = [db.collection("orders").document(f"copy-{count}-{i}") for i in range(count)]
    for ref in refs:
        ref.create(_order(now))
    snap = read_all(refs)[0]
    first = snap.to_dict()
    first["items"].append({"product_id": "changed"})
    first["last_payment"]["status"] = "changed"
    second = snap.to_dict()
    assert second == refs[0].get().to_dict()
    assert second["last_payment"]["status"] == "approved"
