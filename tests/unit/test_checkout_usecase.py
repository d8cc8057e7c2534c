"""Checkout (create_payment's use case), every branch, on in-memory fakes: pricing, replays
and key reuse, the draft written before the charge, deletion after a definite refusal, the
order kept after an unknown outcome, re-payments, Checkout Pro."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from google.api_core import exceptions as gexc

from shared.adapters.mercadopago.errors import ProviderRejected, ProviderUnavailable
from shared.adapters.store.idempotency import key_hash, replay_of
from shared.domain import errors
from shared.platform.schemas import parse_request
from shared.platform.secrets import MissingSecret
from shared.usecases.checkout import BuyerContext, Checkout
from shared.usecases.checkout_plan import CheckoutResult, payment_key
from tests.support.fakes.catalog import FakeCatalog
from tests.support.fakes.checkout_io import FakeCheckoutDocuments
from tests.support.fakes.idempotency import FakeIdempotency
from tests.support.fakes.world import START, World, settings

NOTIFY = "https://ipn.example/webhook"


@dataclass
class Shop:
    world: World = field(default_factory=World)

    def __post_init__(self) -> None:
        self.catalog = FakeCatalog(self.world.memory)
        self.idempotency = FakeIdempotency(self.world.memory)
        self.documents = FakeCheckoutDocuments(self.world.memory)
        self.catalog.add("tee", "59.90", title="Tee", category_id="fashion")
        self.catalog.add("mug", "20.10", title="Mug")
        self.catalog.add("retired", "5.00", active=False)
        self.bot_tokens: list[str | None] = []

    def checkout(self, *, gateway: Any = None, bot: bool = False,
                 **changes: Any) -> Checkout:
        return Checkout(settings(**{"notification_url": NOTIFY, **changes}), self.world.orders,
                        self.idempotency, self.catalog, gateway or self.world.gateway_factory(),
                        clock=self.world.clock,
                        bot_check=self.bot_tokens.append if bot else None,
                        documents=self.documents)

    def card(self, cardholder: str = "APRO", items: Any = None,
             order_id: str | None = None, token: str | None = None) -> Any:
        payload: dict[str, Any] = {
            "payment": {"method": "card", "token": token or self.world.gateway.card_token(
                cardholder), "payment_method_id": "master", "installments": 1},
            "payer": {"email": "buyer@example.com"}}
        if order_id is None:
            payload["items"] = items or [{"product_id": "tee", "quantity": 2},
                                         {"product_id": "mug", "quantity": 1}]
        else:
            payload["order_id"] = order_id
        return parse_request(payload)

    def orders(self) -> dict[str, dict[str, Any]]:
        return self.world.memory.collection("orders")


@pytest.fixture
def shop() -> Shop:
    return Shop()


def create(shop: Shop, request: Any, key: str | None = None, body: str = "body-1",
           checkout: Checkout | None = None, **kwargs: Any) -> CheckoutResult:
    return (checkout or shop.checkout()).create(request, key, body, **kwargs)


def test_an_approved_card_payment_prices_from_the_catalog_and_records_the_attempt(shop):
    result = create(shop, shop.card(), buyer=BuyerContext(ip_address="203.0.113.9"))
    assert result.status == 201 and result.body["status"] == "approved"
    order = shop.world.orders.get(result.body["order_id"])
    assert (order["amount"], order["currency"], order["status"]) == ("139.90", "BRL", "pending")
    assert order["last_payment"]["id"] == result.body["payment_id"]
    assert order["payment_ids"] == [result.body["payment_id"]]
    [sent] = shop.world.gateway.requests
    assert sent.amount == Decimal("139.90") and sent.external_reference == order["order_id"]
    assert sent.notification_url == NOTIFY + "?source_news=webhooks"
    assert sent.ip_address == "203.0.113.9"
    assert [i.get("category_id") for i in sent.additional_items] == ["fashion", None]
    assert sent.idempotency_key == order["attempt_keys"][0]


def test_without_a_notification_url_nothing_is_written(shop):
    with pytest.raises(errors.NotConfigured):
        create(shop, shop.card(), checkout=shop.checkout(notification_url=""))
    assert shop.orders() == {} and shop.world.gateway.requests == []


@pytest.mark.parametrize(("items", "error"), [
    ([{"product_id": "nope", "quantity": 1}], errors.UnknownProduct),
    ([{"product_id": "retired", "quantity": 1}], errors.UnknownProduct),
    ([{"product_id": "tee", "quantity": 1000}], errors.InvalidQuantity),
])
def test_an_order_that_cannot_be_priced_is_refused_before_any_write(shop, items, error):
    with pytest.raises(error):
        create(shop, shop.card(items=items))
    assert shop.orders() == {} and shop.world.gateway.requests == []


def test_a_method_not_offered_in_the_country_is_refused(shop):
    request = parse_request({"payment": {"method": "pix"}, "payer": {"email": "b@example.com"},
                             "items": [{"product_id": "tee", "quantity": 1}]})
    with pytest.raises(errors.MethodNotAvailable):
        create(shop, request, checkout=shop.checkout(mp_country="MX"))
    assert shop.orders() == {}


def test_a_definite_refusal_deletes_the_draft_and_frees_the_key(shop):
    shop.world.gateway.fail_next("create_payment", ProviderRejected(400, {
        "message": "invalid", "cause": [{"code": "4050", "description": "payer.email"}]}))
    with pytest.raises(errors.PaymentRequestRejected):
        create(shop, shop.card(), key="key-1")
    assert shop.orders() == {}
    assert shop.idempotency.record(key_hash("key-1"))["status"] == "failed"


def test_a_provider_never_reached_is_a_definite_refusal_too(shop):
    shop.world.gateway.fail_next("create_payment", ProviderUnavailable("refused", sent=False))
    with pytest.raises(errors.ProviderUnreachable):
        create(shop, shop.card())
    assert shop.orders() == {}


def test_an_unknown_outcome_keeps_the_order_and_names_it(shop):
    shop.world.gateway.fail_next("create_payment", ProviderUnavailable("timeout", timeout=True))
    with pytest.raises(errors.PaymentOutcomeUnknown) as caught:
        create(shop, shop.card(), key="key-2")
    assert caught.value.outcome_unknown
    order_id = caught.value.detail["order_id"]
    assert shop.world.orders.get(order_id)["status"] == "pending"  # kept, never compensated


def test_a_retry_after_an_unknown_outcome_reuses_the_order_and_the_provider_key(shop):
    token = shop.world.gateway.card_token("APRO")
    shop.world.gateway.fail_next("create_payment", ProviderUnavailable("timeout", timeout=True))
    with pytest.raises(errors.PaymentOutcomeUnknown):
        create(shop, shop.card(token=token), key="key-3")
    retried = create(shop, shop.card(token=token), key="key-3")
    assert len(shop.orders()) == 1 and retried.status == 201
    keys = {r.idempotency_key for r in shop.world.gateway.requests}
    assert len(keys) == 1  # the same X-Idempotency-Key: Mercado Pago charges once


def test_a_completed_request_is_replayed_without_a_new_charge_or_bot_check(shop):
    first = create(shop, shop.card(), key="key-4", checkout=shop.checkout(bot=True),
                   bot_token="tok-1")
    again = create(shop, shop.card(), key="key-4", checkout=shop.checkout(bot=True),
                   bot_token="tok-2")
    assert again.replayed and again.body == first.body
    assert len(shop.world.gateway.requests) == 1 and shop.bot_tokens == ["tok-1"]


def test_a_key_reused_with_another_body_is_refused(shop):
    create(shop, shop.card(), key="key-5")
    with pytest.raises(errors.IdempotencyKeyReused):
        create(shop, shop.card(), key="key-5", body="body-2")


def test_a_request_running_with_the_same_key_is_refused_for_now(shop):
    shop.idempotency.begin(key_hash("key-6"), "body-1", "ord_other", shop.world.clock.now)
    with pytest.raises(errors.RequestInProgress):
        create(shop, shop.card(), key="key-6")
    assert shop.world.gateway.requests == []


def test_storage_down_before_the_charge_charges_nothing(shop):
    shop.documents.fail_next("open_order", gexc.ServiceUnavailable("down"))
    with pytest.raises(errors.StorageUnavailable) as caught:
        create(shop, shop.card(), key="key-7")
    assert not caught.value.outcome_unknown and shop.world.gateway.requests == []
    assert shop.orders() == {} and shop.idempotency.record(key_hash("key-7")) is None
    assert create(shop, shop.card(), key="key-7").status == 201  # the key was never taken
    assert len(shop.world.gateway.requests) == 1


def test_storage_down_while_resuming_a_key_marks_it_failed_and_charges_nothing(shop):
    shop.idempotency.begin(key_hash("key-7"), "body-1", "ord_resumed00000000000000", START)
    shop.idempotency.fail(key_hash("key-7"))
    shop.world.orders.fail_next("create_draft", gexc.ServiceUnavailable("down"))
    with pytest.raises(errors.StorageUnavailable) as caught:
        create(shop, shop.card(), key="key-7")
    assert not caught.value.outcome_unknown and shop.world.gateway.requests == []
    assert shop.idempotency.record(key_hash("key-7"))["status"] == "failed"


def test_a_new_order_is_one_read_and_one_commit_before_the_charge(shop):
    result = create(shop, shop.card(), key="key-n")
    assert (shop.documents.reads, shop.documents.opened) == (1, 1)
    record = shop.idempotency.record(key_hash("key-n"))
    assert record["order_id"] == result.body["order_id"] and record["status"] == "completed"
    order = shop.world.orders.get(result.body["order_id"])
    assert order["status"] == "pending" and order["payment_ids"] == [result.body["payment_id"]]


def test_a_key_claimed_between_the_read_and_the_commit_writes_nothing(shop):
    """A request with the same key claims it after this one's read: the combined commit fails
    on the record's precondition, writes nothing, and the sequential path answers 409."""
    def racer(_token: str | None) -> None:
        shop.idempotency.begin(key_hash("key-r"), "body-1", "ord_racer00000000000000000",
                               shop.world.clock.now)

    checkout = shop.checkout(bot=True)
    checkout._bot_check = racer  # runs after the read, before the commit
    with pytest.raises(errors.RequestInProgress):
        create(shop, shop.card(), key="key-r", checkout=checkout)
    assert shop.orders() == {} and shop.world.gateway.requests == []
    assert shop.documents.opened == 0
    assert shop.idempotency.record(key_hash("key-r"))["order_id"] == "ord_racer00000000000000000"


def test_a_key_completed_between_the_read_and_the_commit_is_replayed(shop):
    first = create(shop, shop.card(), key="key-c")
    shop.idempotency.memory.collection("idempotency").pop(key_hash("key-c"))
    saved = dict(first.body)

    def racer(_token: str | None) -> None:  # the first request's record, completed meanwhile
        shop.idempotency.begin(key_hash("key-c"), "body-1", saved["order_id"],
                               shop.world.clock.now)
        shop.world.orders.record_attempt(saved["order_id"], {"id": saved["payment_id"]},
                                         shop.world.clock.now,
                                         (shop.idempotency.ref(key_hash("key-c")),
                                          shop.idempotency.completion(201, saved)))

    checkout = shop.checkout(bot=True)
    checkout._bot_check = racer
    again = create(shop, shop.card(), key="key-c", checkout=checkout)
    assert again.replayed and again.body == saved
    assert len(shop.world.gateway.requests) == 1 and len(shop.orders()) == 1


def test_a_combined_commit_whose_answer_was_lost_is_resumed_by_the_retry(shop):
    """UNAVAILABLE after the commit applied: nothing was charged; the record is marked failed
    so the retry with the same key resumes the same order id (its draft kept), charging once."""
    real = shop.documents.open_order

    def applied_then_lost(opening: Any) -> bool:
        real(opening)
        raise gexc.ServiceUnavailable("connection reset")

    shop.documents.open_order = applied_then_lost  # type: ignore[method-assign]
    token = shop.world.gateway.card_token("APRO")
    with pytest.raises(errors.StorageUnavailable) as caught:
        create(shop, shop.card(token=token), key="key-l")
    assert not caught.value.outcome_unknown and shop.world.gateway.requests == []
    assert shop.idempotency.record(key_hash("key-l"))["status"] == "failed"
    [order_id] = shop.orders()
    shop.documents.open_order = real  # type: ignore[method-assign]
    retried = create(shop, shop.card(token=token), key="key-l")
    assert retried.status == 201 and retried.body["order_id"] == order_id
    assert list(shop.orders()) == [order_id] and len(shop.world.gateway.requests) == 1


def test_storage_down_after_the_charge_is_an_unknown_outcome_and_the_order_stays(shop):
    shop.world.orders.fail_next("record_attempt", gexc.ServiceUnavailable("down"))
    with pytest.raises(errors.StorageUnavailable) as caught:
        create(shop, shop.card())
    assert caught.value.outcome_unknown and len(shop.orders()) == 1


def test_an_order_changed_meanwhile_is_a_conflict(shop):
    shop.world.orders.fail_next("record_attempt", gexc.FailedPrecondition("changed"))
    with pytest.raises(errors.ConcurrentChange):
        create(shop, shop.card())


def test_a_missing_access_token_refuses_to_charge_and_deletes_the_draft(shop):
    def no_token() -> Any:
        raise MissingSecret("secret MP_ACCESS_TOKEN is not configured")

    with pytest.raises(errors.NotConfigured):
        create(shop, shop.card(), checkout=shop.checkout(gateway=no_token))
    assert shop.orders() == {}


def test_a_payment_of_another_order_from_the_provider_is_refused(shop):
    gateway = shop.world.gateway
    real = gateway.create_payment

    def foreign(request: Any) -> Any:
        snap = real(request)
        return snap.__class__(**{**snap.__dict__, "external_reference": "ord_someone_else"})

    gateway.create_payment = foreign  # type: ignore[method-assign]
    with pytest.raises(errors.ForeignPayment):
        create(shop, shop.card())


def test_a_refused_card_is_recorded_and_the_order_can_be_paid_again(shop):
    refused = create(shop, shop.card("OTHE"))
    order_id = refused.body["order_id"]
    assert refused.body["status"] == "rejected"
    again = create(shop, shop.card(order_id=order_id))
    assert again.body["order_id"] == order_id and again.body["status"] == "approved"
    order = shop.world.orders.get(order_id)
    assert len(order["attempt_keys"]) == 2 and len(order["payment_ids"]) == 2
    assert order["amount"] == "139.90"  # priced from the stored order, not the catalog again


def test_an_order_that_does_not_exist_or_is_paid_cannot_be_paid(shop):
    with pytest.raises(errors.NoSuchOrder):
        create(shop, shop.card(order_id="ord_nope000000000000000000"))
    paid = create(shop, shop.card())
    shop.world.orders.apply_payment(shop.world.gateway.get_payment(paid.body["payment_id"]),
                                    shop.world.clock.now)
    with pytest.raises(errors.OrderNotPayable):
        create(shop, shop.card(order_id=paid.body["order_id"]))


def test_checkout_pro_creates_a_preference_and_records_it(shop):
    request = parse_request({"payment": {"method": "checkout_pro"},
                             "items": [{"product_id": "tee", "quantity": 1}]})
    result = create(shop, request, key="key-8", checkout=shop.checkout(
        checkout_success_url="https://shop.example/ok"))
    assert result.status == 201 and result.body["preference_id"].startswith("pref-")
    assert "sandbox_init_point" in result.body  # a TEST- access token
    order = shop.world.orders.get(result.body["order_id"])
    assert order["checkout"]["preference_id"] == result.body["preference_id"]
    [pref] = shop.world.gateway.preferences
    assert pref.back_urls == {"success": "https://shop.example/ok"}
    record = shop.idempotency.record(key_hash("key-8"))
    assert record is not None and replay_of(record, "body-1").body == result.body


def test_the_provider_key_is_derived_from_the_order_and_the_card_token(shop):
    request = shop.card()
    result = create(shop, request)
    assert shop.world.gateway.requests[0].idempotency_key == payment_key(
        result.body["order_id"], request.payment)
