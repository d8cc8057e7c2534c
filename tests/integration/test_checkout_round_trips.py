"""create_payment's use case on the Firestore emulator with the attempt limits on (as
deployed): the Firestore round trips of a new order, and the nasty paths of its one opening
commit (a key claimed meanwhile, racing requests, limits full, an answer lost)."""

from __future__ import annotations

from collections import Counter as Tally
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.adapters.store.catalog import Catalog
from shared.adapters.store.checkout_io import CheckoutDocuments
from shared.adapters.store.idempotency import IdempotencyStore, key_hash
from shared.adapters.store.limits import COUNTERS, LimitStore
from shared.adapters.store.orders import OrderRepository
from shared.domain import errors
from shared.domain.limits import Rate
from shared.platform.schemas import parse_request
from shared.usecases.attempt_limits import AttemptGuard
from shared.usecases.checkout import BuyerContext, Checkout
from tests.support.fakes.gateway import FakeGateway
from tests.support.fakes.world import Clock, settings

LIMITS: dict[str, Any] = {"rate_limit_card": Rate(5, 3600), "rate_limit_payer": Rate(10, 3600),
                          "rate_limit_ip": Rate(100, 600), "rate_limit_orders_ip": Rate(200, 600),
                          "max_attempts_per_order": 5}
RPCS = ("batch_get_documents", "get_document", "commit", "run_query")
BUYER = BuyerContext(ip_address="203.0.113.9")


class Shop:
    def __init__(self, db: Any, **limits: Any) -> None:
        self.db = db
        self.gateway = FakeGateway()
        self.clock = Clock()
        self.rpcs: Tally[str] = Tally()
        self.cards: list[str] = []
        s = settings(notification_url="https://ipn.example/webhook", **{**LIMITS, **limits})

        def card_of(token: str) -> Any:
            self.cards.append(token)
            return self.gateway.get_card_token(token)

        self.bot: Any = None
        self.checkout = Checkout(
            s, OrderRepository(db, defer_effects=True), IdempotencyStore(db, 3600), Catalog(db),
            lambda: self.gateway, self.clock,
            AttemptGuard(s, LimitStore(db), lambda: "test-only-key", card_of, self.clock),
            lambda token: self.bot(token) if self.bot else None,
            documents=CheckoutDocuments(db, 3600))
        db.collection("products").document("tee").set(
            {"title": "Tee", "unit_price": "59.90", "currency": "BRL", "active": True})
        api = db._firestore_api
        for name in RPCS:
            setattr(api, name, self._counted(name, getattr(api, name)))

    def _counted(self, name: str, call: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.rpcs[name] += 1
            return call(*args, **kwargs)
        return counted

    def request(self, token: str | None = None, email: str = "buyer@example.com",
                order_id: str | None = None) -> Any:
        body: dict[str, Any] = {
            "payment": {"method": "card", "token": token or self.gateway.card_token("APRO"),
                        "payment_method_id": "master", "installments": 1},
            "payer": {"email": email}}
        if order_id is None:
            body["items"] = [{"product_id": "tee", "quantity": 1}]
        else:
            body["order_id"] = order_id
        return parse_request(body)

    def ids(self, collection: str) -> list[str]:
        return sorted(d.id for d in self.db.collection(collection).stream())

    def counts(self) -> dict[str, int]:
        return {d.id: d.to_dict()["count"] for d in self.db.collection(COUNTERS).stream()}


@pytest.fixture
def db(firestore_project, firestore_emulator):
    client = firestore_emulator.client(firestore_project)
    client.collection("warm-up").document("x").get(timeout=60)  # the JVM's first answer
    return client


def test_a_new_card_order_costs_four_round_trips_with_every_limit_on(db):
    shop = Shop(db)
    result = shop.checkout.create(shop.request(), "key-1", "body-1", BUYER)
    assert result.status == 201 and result.body["status"] == "approved"
    # one read (product, request record, IP/payer/orders-per-IP counters), the card counter's
    # read after the token's card (one document: a unary read), one commit before the charge,
    # one after it
    assert shop.rpcs == {"batch_get_documents": 1, "get_document": 1, "commit": 2}
    assert sorted(d["kind"] for d in [c.to_dict() for c in
                                      db.collection(COUNTERS).stream()]) == [
        "card", "ip", "orders_ip", "payer"]
    assert set(shop.counts().values()) == {1}
    record = db.collection("idempotency").document(key_hash("key-1")).get().to_dict()
    assert record["status"] == "completed" and record["order_id"] == result.body["order_id"]


def test_a_refused_attempt_writes_nothing_and_never_calls_mercado_pago(db):
    shop = Shop(db, rate_limit_ip=Rate(1, 600))
    shop.checkout.create(shop.request(), "key-1", "body-1", BUYER)
    before = (shop.ids("orders"), shop.ids("idempotency"), shop.counts())
    shop.cards.clear()
    with pytest.raises(errors.RateLimited):
        shop.checkout.create(shop.request(email="other@example.com"), "key-2", "body-2", BUYER)
    assert (shop.ids("orders"), shop.ids("idempotency"), shop.counts()) == before
    assert shop.cards == [] and len(shop.gateway.requests) == 1  # no token read, no charge


def test_a_card_over_its_limit_is_refused_after_the_token_read_and_writes_nothing(db):
    shop = Shop(db, rate_limit_card=Rate(1, 3600))
    shop.checkout.create(shop.request(), "key-1", "body-1", BUYER)
    before = (shop.ids("orders"), shop.ids("idempotency"), shop.counts())
    with pytest.raises(errors.RateLimited):
        shop.checkout.create(shop.request(), "key-2", "body-2", BUYER)
    assert (shop.ids("orders"), shop.ids("idempotency"), shop.counts()) == before
    assert len(shop.gateway.requests) == 1


def test_a_key_claimed_after_the_read_falls_back_and_answers_in_progress(db):
    shop = Shop(db)
    store = IdempotencyStore(db, 3600)
    shop.bot = lambda _token: store.begin(key_hash("key-r"), "body-1",
                                          "ord_racer00000000000000000", shop.clock())
    with pytest.raises(errors.RequestInProgress):
        shop.checkout.create(shop.request(), "key-r", "body-1", BUYER)
    assert shop.ids("orders") == [] and shop.gateway.requests == []


def test_racing_requests_with_one_key_charge_once(db):
    shop = Shop(db)
    token = shop.gateway.card_token("APRO")

    def one(_i: int) -> Any:
        try:
            return shop.checkout.create(shop.request(token=token), "key-x", "body-1", BUYER)
        except errors.RequestInProgress as exc:
            return exc

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(one, range(6)))
    answers = [o for o in outcomes if not isinstance(o, Exception)]
    assert answers and {a.body["order_id"] for a in answers} == {answers[0].body["order_id"]}
    assert shop.ids("orders") == [answers[0].body["order_id"]]
    assert len(shop.gateway.requests) == 1


def test_an_opening_whose_answer_was_lost_is_resumed_by_the_retry(db, monkeypatch):
    shop = Shop(db)
    real = CheckoutDocuments.open_order

    def applied_then_lost(self: CheckoutDocuments, opening: Any) -> bool:
        real(self, opening)
        raise gexc.ServiceUnavailable("connection reset")

    monkeypatch.setattr(CheckoutDocuments, "open_order", applied_then_lost)
    token = shop.gateway.card_token("APRO")
    with pytest.raises(errors.StorageUnavailable) as caught:
        shop.checkout.create(shop.request(token=token), "key-l", "body-1", BUYER)
    assert not caught.value.outcome_unknown and shop.gateway.requests == []
    record = db.collection("idempotency").document(key_hash("key-l")).get().to_dict()
    assert record["status"] == "failed"
    [order_id] = shop.ids("orders")
    monkeypatch.setattr(CheckoutDocuments, "open_order", real)
    retried = shop.checkout.create(shop.request(token=token), "key-l", "body-1", BUYER)
    assert retried.status == 201 and retried.body["order_id"] == order_id
    assert shop.ids("orders") == [order_id] and len(shop.gateway.requests) == 1


def test_a_repayment_keeps_its_slot_and_reads_the_order_with_the_rest(db):
    shop = Shop(db)
    first = shop.checkout.create(shop.request(), None, "body-1", BUYER)
    shop.rpcs.clear()
    again = shop.checkout.create(shop.request(order_id=first.body["order_id"]), "key-2",
                                 "body-2", BUYER)
    rpcs = dict(shop.rpcs)
    assert again.body["order_id"] == first.body["order_id"]
    assert len(shop.ids("order_attempt_slots")) == 1
    # one read (order, record, counters), the card counter, the catalog's categories for
    # Mercado Pago; commits: limits with the slot, the record, the attempt key, the attempt
    # (the card counter and the one product's categories are single documents: unary reads)
    assert rpcs == {"batch_get_documents": 1, "get_document": 2, "commit": 4}
