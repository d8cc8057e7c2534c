"""One suite, two Mercado Pagos: ``FakeGateway`` and ``MercadoPagoGateway`` (the official
SDK) against the simulator answer with the same typed values and errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests

from local.mp_simulator.server import start_simulator
from shared.adapters.mercadopago.errors import ProviderRejected, ResourceNotFound
from shared.adapters.mercadopago.requests import PayerInfo, PaymentRequest
from shared.usecases import ports
from tests.support.fakes.gateway import FakeGateway

TOKEN = "TEST-contract-token"
PUBLIC_KEY = "TEST-contract-pk"

pytestmark = pytest.mark.filterwarnings("ignore:notification_url is deprecated:DeprecationWarning")


@dataclass
class Mp:
    gateway: ports.PaymentGateway
    card_token: Any  # (cardholder name) -> token id


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    # CONT payments stay in_process for the whole test (no automatic approval).
    sim = start_simulator(access_token=TOKEN, public_key=PUBLIC_KEY, cont_delay=3600.0)
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(params=["fake", "simulator"])
def mp(request: pytest.FixtureRequest) -> Mp:
    if request.param == "fake":
        fake = FakeGateway()
        return Mp(fake, fake.card_token)
    from shared.adapters.mercadopago.gateway import gateway

    sim = request.getfixturevalue("simulator")

    def card_token(cardholder: str) -> str:
        answer = requests.post(f"{sim.url}/v1/card_tokens", params={"public_key": PUBLIC_KEY},
                               json={"card_number": "5031433215406351", "expiration_month": 11,
                                     "expiration_year": 2030, "security_code": "123",
                                     "cardholder": {"name": cardholder}}, timeout=10)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    return Mp(gateway(TOKEN, sim.url, 10.0), card_token)


def _pay(mp: Mp, cardholder: str = "APRO", amount: str = "120.00", key: str | None = None,
         order_id: str | None = None, token: str | None = None) -> Any:
    return mp.gateway.create_payment(PaymentRequest(
        amount=Decimal(amount), description="contract", payment_method_id="master",
        payer=PayerInfo(email="buyer@example.com"),
        external_reference=order_id or f"ord_{uuid.uuid4().hex[:12]}",
        notification_url="http://127.0.0.1:9/ipn", idempotency_key=key or uuid.uuid4().hex,
        token=token or mp.card_token(cardholder), installments=1))


def test_a_card_payment_takes_the_cardholder_outcome_and_reads_back(mp):
    approved = _pay(mp, "APRO", order_id="ord_contract_1")
    assert (approved.status, approved.status_detail) == ("approved", "accredited")
    assert approved.amount == Decimal("120.00") and approved.currency == "BRL"
    assert approved.external_reference == "ord_contract_1" and approved.refunded_amount == 0
    assert mp.gateway.get_payment(approved.id) == approved
    rejected = _pay(mp, "OTHE")
    assert (rejected.status, rejected.status_detail) == ("rejected", "cc_rejected_other_reason")
    held = _pay(mp, "CONT")
    assert (held.status, held.status_detail) == ("in_process", "pending_contingency")


def test_a_repeated_idempotency_key_answers_the_first_payment(mp):
    key = uuid.uuid4().hex
    token = mp.card_token("APRO")
    first = _pay(mp, key=key, token=token)
    assert _pay(mp, key=key, token=token).id == first.id


def test_a_spent_card_token_still_reads_but_cannot_pay_again(mp):
    # A request racing a payment with the same token reads the card (the per-card limit)
    # after the token was spent: the read must still answer, a second charge must not.
    token = mp.card_token("APRO")
    _pay(mp, token=token)
    card = mp.gateway.get_card_token(token)
    assert (card.first_six, card.last_four) == ("503143", "6351")
    with pytest.raises(ProviderRejected) as refused:
        _pay(mp, token=token)
    assert refused.value.status == 400 and refused.value.cause_codes == ["3003"]


def test_unknown_resources_are_resource_not_found(mp):
    with pytest.raises(ResourceNotFound):
        mp.gateway.get_payment("999999999")
    with pytest.raises(ResourceNotFound):
        mp.gateway.get_merchant_order("999999999")
    with pytest.raises(ResourceNotFound):
        mp.gateway.get_chargeback("999999999")


def test_partial_then_full_refund_moves_the_payment(mp):
    paid = _pay(mp, amount="100.00")
    part = mp.gateway.refund(paid.id, Decimal("30.00"), uuid.uuid4().hex)
    assert part.amount == Decimal("30.00") and part.status == "approved"
    after = mp.gateway.get_payment(paid.id)
    assert (after.status, after.status_detail) == ("approved", "partially_refunded")
    assert after.refunded_amount == Decimal("30.00")
    assert after.date_last_updated >= paid.date_last_updated
    rest = mp.gateway.refund(paid.id, None, uuid.uuid4().hex)
    assert rest.amount == Decimal("70.00")
    done = mp.gateway.get_payment(paid.id)
    assert (done.status, done.refunded_amount) == ("refunded", Decimal("100.00"))


def test_a_refund_is_refused_beyond_the_amount_or_for_an_unpaid_payment(mp):
    paid = _pay(mp, amount="50.00")
    with pytest.raises(ProviderRejected) as too_much:
        mp.gateway.refund(paid.id, Decimal("60.00"), uuid.uuid4().hex)
    assert too_much.value.status == 400
    rejected = _pay(mp, "OTHE")
    with pytest.raises(ProviderRejected) as refused:
        mp.gateway.refund(rejected.id, None, uuid.uuid4().hex)
    assert "2063" in refused.value.cause_codes


def test_a_refund_with_a_repeated_key_refunds_once(mp):
    paid = _pay(mp, amount="80.00")
    key = uuid.uuid4().hex
    first = mp.gateway.refund(paid.id, Decimal("10.00"), key)
    assert mp.gateway.refund(paid.id, Decimal("10.00"), key).id == first.id
    assert mp.gateway.get_payment(paid.id).refunded_amount == Decimal("10.00")


def test_an_in_process_payment_is_cancelled_an_approved_one_is_not(mp):
    held = _pay(mp, "CONT")
    cancelled = mp.gateway.cancel(held.id, uuid.uuid4().hex)
    assert cancelled.status == "cancelled"
    assert mp.gateway.get_payment(held.id).status == "cancelled"
    with pytest.raises(ProviderRejected):
        mp.gateway.cancel(_pay(mp).id, uuid.uuid4().hex)


def test_search_by_external_reference_finds_the_orders_payments_latest_update_first(mp):
    order_id = f"ord_{uuid.uuid4().hex[:12]}"
    ids = [_pay(mp, order_id=order_id).id for _ in range(3)]
    _pay(mp)  # another order's
    # A window wide enough for both clocks (the fake's starts in 2026, the simulator's is now).
    since, until = datetime(2025, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=400)
    found = mp.gateway.search_order_payments(order_id, since, until)
    assert [p.id for p in found] == ids[::-1]
    assert [p.id for p in mp.gateway.search_order_payments(order_id, since, until, limit=2)] \
        == ids[::-1][:2]
