"""create_payment's decisions, one branch per test: pricing, the idempotency record's answer,
the draft step, the limits' attempt, and what a failed charge leaves behind."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.adapters.store.catalog import Product
from shared.adapters.store.idempotency import InProgress, KeyReused, Replay, Started
from shared.domain.errors import (
    IdempotencyKeyReused,
    InvalidQuantity,
    MixedCurrency,
    NoSuchOrder,
    OrderNotPayable,
    RequestInProgress,
    UnknownProduct,
)
from shared.platform.schemas import (
    CardPayment,
    CheckoutProPayment,
    CreatePaymentRequest,
    Item,
    Payer,
    PixPayment,
)
from shared.usecases.checkout_plan import (
    CheckoutResult,
    DraftStep,
    PricedOrder,
    attempt_to_admit,
    check_quantities,
    claimed,
    compensation,
    draft_step,
    is_foreign,
    payment_key,
    price_items,
    price_stored,
)

CARD = CardPayment(token="tok-0000aaaa", payment_method_id="visa")
PRODUCTS = {
    "a": Product("a", "Mug", Decimal("10.10"), "BRL", True, "home"),
    "b": Product("b", "Tee", Decimal("0.35"), "BRL", True),
    "off": Product("off", "Old", Decimal("1"), "BRL", False),
    "usd": Product("usd", "Hat", Decimal("5"), "USD", True),
}


def priced(existing: bool = False, keys: tuple[str, ...] = ()) -> PricedOrder:
    return PricedOrder("ord_1", Decimal("20.20"), "BRL", [], "", existing, attempt_keys=keys)


# -- pricing ----------------------------------------------------------------------------
@pytest.mark.parametrize("quantity", [0, 100, -1])
def test_quantity_out_of_range_names_its_line(quantity):
    with pytest.raises(InvalidQuantity) as caught:
        check_quantities([Item("a", 1), Item("b", quantity)])
    assert caught.value.fields == [{"path": "$.items[1].quantity", "message": "must be 1 to 99"}]


def test_quantities_in_range_pass():
    check_quantities([Item("a", 1), Item("b", 99)])


def test_items_priced_in_decimal_with_lines_description_and_categories():
    order = price_items("ord_1", [Item("a", 3), Item("b", 3)], PRODUCTS)
    assert order.amount == Decimal("31.35") and order.currency == "BRL"
    assert [line["line_total"] for line in order.items] == ["30.30", "1.05"]
    assert order.description == "3x Mug, 3x Tee"
    assert order.categories == {"a": "home"} and not order.existing


@pytest.mark.parametrize("product", ["missing", "off"])
def test_unknown_or_inactive_product_is_refused(product):
    with pytest.raises(UnknownProduct) as caught:
        price_items("ord_1", [Item("a", 1), Item(product, 1)], PRODUCTS)
    assert caught.value.fields == [{"path": "$.items[1].product_id",
                                    "message": "unknown or inactive product"}]


def test_mixed_currencies_are_refused():
    with pytest.raises(MixedCurrency):
        price_items("ord_1", [Item("a", 1), Item("usd", 1)], PRODUCTS)


def test_stored_order_missing_is_not_found():
    with pytest.raises(NoSuchOrder):
        price_stored("ord_1", None, CARD)


def test_stored_pending_order_is_priced_as_stored():
    order = {"status": "pending", "amount": "20.20", "currency": "BRL",
             "items": [{"quantity": 2, "title": "Mug"}], "attempt_keys": ["k1"]}
    found = price_stored("ord_1", order, CARD)
    assert (found.amount, found.existing, found.attempt_keys) == (Decimal("20.20"), True, ("k1",))
    assert found.description == "2x Mug"


def test_paid_order_refuses_a_new_attempt_and_says_its_status():
    order = {"status": "paid", "amount": "1", "currency": "BRL", "items": []}
    with pytest.raises(OrderNotPayable) as caught:
        price_stored("ord_1", order, CARD)
    assert caught.value.detail == {"order_status": "paid"}


def test_paid_order_takes_a_retry_of_its_own_attempt():
    key = payment_key("ord_1", CARD)
    order = {"status": "paid", "amount": "1", "currency": "BRL", "items": [],
             "attempt_keys": [key]}
    assert price_stored("ord_1", order, CARD).attempt_keys == (key,)


# -- the idempotency record's answer -----------------------------------------------------
def test_a_completed_record_is_replayed():
    answer = claimed(Replay(201, {"order_id": "ord_0"}), priced(), order_given=False)
    assert answer == CheckoutResult(201, {"order_id": "ord_0"}, replayed=True)


def test_a_key_reused_with_another_body_is_refused():
    with pytest.raises(IdempotencyKeyReused):
        claimed(KeyReused(), priced(), order_given=False)


def test_a_running_request_is_refused_with_a_retry_hint():
    with pytest.raises(RequestInProgress) as caught:
        claimed(InProgress(), priced(), order_given=False)
    assert caught.value.retry_after == 1


def test_a_resumed_request_reuses_the_order_id_its_first_run_chose():
    order = claimed(Started("ord_first", resumed=True), priced(), order_given=False)
    assert isinstance(order, PricedOrder) and order.order_id == "ord_first"


def test_an_order_named_by_the_request_keeps_its_id():
    mine = priced(existing=True)
    assert claimed(Started("ord_other", resumed=True), mine, order_given=True) is mine


# -- the draft step ---------------------------------------------------------------------------
def test_a_new_order_is_created_before_charging():
    assert draft_step(priced(), "k") is DraftStep.CREATE


def test_an_existing_order_learns_a_new_attempt_key_first():
    assert draft_step(priced(existing=True, keys=("old",)), "k") is DraftStep.REMEMBER_KEY


def test_an_existing_order_that_knows_the_key_needs_nothing():
    assert draft_step(priced(existing=True, keys=("k",)), "k") is DraftStep.NOTHING


# -- the attempt the limits count ---------------------------------------------------------
def test_a_new_card_attempt_is_counted_with_its_subjects():
    request = CreatePaymentRequest(payment=CARD, payer=Payer(email="b@example.com"))
    attempt = attempt_to_admit(request, priced(existing=True, keys=("x",)), "203.0.113.9")
    assert attempt is not None
    assert (attempt.card_token, attempt.payer_email, attempt.new_order,
            attempt.attempts_made) == ("tok-0000aaaa", "b@example.com", False, 1)


def test_a_retry_of_the_same_card_attempt_is_not_counted():
    request = CreatePaymentRequest(payment=CARD)
    known = priced(existing=True, keys=(payment_key("ord_1", CARD),))
    assert attempt_to_admit(request, known, "ip") is None


def test_a_pix_attempt_has_no_card_to_count():
    attempt = attempt_to_admit(CreatePaymentRequest(payment=PixPayment()), priced(), "ip")
    assert attempt is not None and attempt.card_token is None and attempt.new_order


def test_checkout_pro_key_is_per_order_and_method():
    assert payment_key("ord_1", CheckoutProPayment()) != payment_key("ord_2", CheckoutProPayment())


# -- settle or compensate -----------------------------------------------------------------
@pytest.mark.parametrize(("created_here", "unknown", "delete", "name"), [
    (True, False, True, False),   # a definite refusal: the draft goes, nothing is left
    (True, True, False, True),    # the charge may exist: keep the order, say which
    (False, False, False, True),  # not ours to delete: name it
    (False, True, False, True),
])
def test_what_a_failed_charge_leaves(created_here, unknown, delete, name):
    plan = compensation(created_here, unknown)
    assert (plan.delete_draft, plan.name_order) == (delete, name)


@pytest.mark.parametrize(("reference", "foreign"), [("", False), ("ord_1", False),
                                                     ("ord_2", True)])
def test_a_payment_of_another_order_is_foreign(reference, foreign):
    assert is_foreign(priced(), reference) is foreign
