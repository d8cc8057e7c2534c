"""The simulator's other payment paths: PIX, tickets, SPEI, 3-D Secure, refunds, cancellation,
chargebacks, Checkout Pro preferences with the hosted page, merchant orders and search.

Driven by the official SDK where it has the resource, plain requests otherwise.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import mercadopago
import pytest
import requests
from mercadopago.config import RequestOptions

from local.mp_simulator import start_simulator
from tests.support.receiver import Received, Receiver
from tests.support.simulator import (
    ACCESS_TOKEN,
    NOTIFICATION_PATH,
    PUBLIC_KEY,
    SECRET,
    SimulatorHttpClient,
    card_token,
    control,
    delivered,
    pay,
)
from tests.support.waiting import wait_until

CONT_DELAY = 0.3
MP_TZ = timezone(timedelta(hours=-4))

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.filterwarnings("ignore:notification_url is deprecated:DeprecationWarning"),
]

BOLETO_PAYER = {
    "email": "buyer@example.com",
    "first_name": "Joao",
    "last_name": "Silva",
    "identification": {"type": "CPF", "number": "12345678909"},
    "address": {"zip_code": "06233200", "street_name": "Av. das Nacoes Unidas",
                "street_number": "3003", "neighborhood": "Bonfim", "city": "Osasco",
                "federal_unit": "SP"},
}


@pytest.fixture(scope="module")
def sim():
    handle = start_simulator(
        access_token=ACCESS_TOKEN, public_key=PUBLIC_KEY, webhook_secret=SECRET,
        cont_delay=CONT_DELAY, retry_delays=(0.2,), receiver_timeout=2.0,
    )
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver(NOTIFICATION_PATH)
    yield r
    r.close()


@pytest.fixture(autouse=True)
def clean(sim, receiver):
    requests.post(sim.url + "/_sim/reset", timeout=5).raise_for_status()
    receiver.reset()
    yield


@pytest.fixture()
def sdk(sim):
    return mercadopago.SDK(ACCESS_TOKEN, http_client=SimulatorHttpClient(sim.url))


def options(key: str | None = None) -> RequestOptions:
    return RequestOptions(custom_headers={"x-idempotency-key": key or uuid.uuid4().hex})


def offline(sdk, method: str, notification_url: str | None = None, payer=None, **extra):
    body: dict[str, Any] = {
        "transaction_amount": 150.0,
        "description": "Offline order",
        "payment_method_id": method,
        "payer": payer or {"email": "buyer@example.com"},
        "external_reference": f"order-{method}",
        **extra,
    }
    if notification_url:
        body["notification_url"] = notification_url
    return sdk.payment().create(body, options())


def kinds(notes: list[Received]) -> list[tuple[str, str]]:
    return sorted((n.json()["type"], n.json().get("action") or n.json()["actions"][0])
                  for n in notes)


def api(sim, method: str, path: str, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}", **kw.pop("headers", {})}
    return requests.request(method, sim.url + path, headers=headers, timeout=5, **kw)


def causes(response: dict[str, Any]) -> set[Any]:
    return {c["code"] for c in response["cause"]}


def in_seconds(seconds: float) -> str:
    return (datetime.now(MP_TZ) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


# --- 1. currency per method -------------------------------------------------------------
@pytest.mark.parametrize(("method", "currency"), [
    ("pix", "BRL"), ("bolbradesco", "BRL"), ("oxxo", "MXN"), ("clabe", "MXN"),
    ("paycash", "MXN"), ("rapipago", "ARS"), ("pagofacil", "ARS"),
])
def test_currency_follows_method(sdk, method, currency):
    p = offline(sdk, method, payer=BOLETO_PAYER)
    assert p["status"] == 201, p
    assert p["response"]["currency_id"] == currency
    same = offline(sdk, method, payer=BOLETO_PAYER, currency_id=currency)
    assert same["status"] == 201
    other = offline(sdk, method, payer=BOLETO_PAYER, currency_id="USD")
    assert other["status"] == 400 and other["response"]["error"] == "bad_request"


def test_card_uses_default_currency(sdk):
    assert pay(sdk, card_token(sdk))["response"]["currency_id"] == "BRL"
    assert pay(sdk, card_token(sdk), currency_id="MXN")["status"] == 400


# --- 2. PIX --------------------------------------------------------------------------------
def test_pix_pending_then_approved_by_control(sim, sdk, receiver):
    created = offline(sdk, "pix", receiver.url)
    assert created["status"] == 201
    p = created["response"]
    assert (p["status"], p["status_detail"]) == ("pending", "pending_waiting_transfer")
    assert p["payment_type_id"] == "bank_transfer" and p["currency_id"] == "BRL"
    poi = p["point_of_interaction"]
    assert poi["type"] == "PIX"
    data = poi["transaction_data"]
    assert data["qr_code"].startswith("000201") and "br.gov.bcb.pix" in data["qr_code"]
    assert base64.b64decode(data["qr_code_base64"]).startswith(b"\x89PNG\r\n\x1a\n")
    assert data["ticket_url"] == f"{sim.url}/sandbox/payments/{p['id']}/ticket"
    page = requests.get(data["ticket_url"], timeout=5)
    assert page.status_code == 200 and data["qr_code"] in page.text
    expires = datetime.fromisoformat(p["date_of_expiration"])
    assert timedelta(hours=23) < expires - datetime.now(MP_TZ) <= timedelta(hours=24)
    assert p["date_approved"] is None
    moved = control(sim, "POST", f"/_sim/payments/{p['id']}/status", {"status": "approved"})
    assert (moved["status"], moved["status_detail"]) == ("approved", "accredited")
    assert moved["date_approved"]
    notes = receiver.wait_for(2)
    assert kinds(notes) == [("payment", "payment.created"), ("payment", "payment.updated")]
    assert sdk.payment().get(p["id"])["response"]["status"] == "approved"


# --- 3. tickets, transfers, expiry -------------------------------------------------------
@pytest.mark.parametrize("method", ["bolbradesco", "oxxo", "paycash", "rapipago", "pagofacil"])
def test_ticket_methods(sim, sdk, method):
    p = offline(sdk, method, payer=BOLETO_PAYER)["response"]
    assert p["payment_type_id"] == "ticket"
    assert (p["status"], p["status_detail"]) == ("pending", "pending_waiting_payment")
    url = p["transaction_details"]["external_resource_url"]
    assert url == f"{sim.url}/sandbox/payments/{p['id']}/ticket"
    assert requests.get(url, timeout=5).status_code == 200
    expires = datetime.fromisoformat(p["date_of_expiration"])
    assert timedelta(days=2, hours=23) < expires - datetime.now(MP_TZ) <= timedelta(days=3)
    if method == "bolbradesco":
        assert p["barcode"]["content"].isdigit() and len(p["barcode"]["content"]) == 44
        assert p["payer"]["address"]["zip_code"] == "06233200"


def test_bolbradesco_requires_payer_address(sdk):
    payer = {k: v for k, v in BOLETO_PAYER.items() if k != "address"}
    r = offline(sdk, "bolbradesco", payer=payer)
    assert r["status"] == 400
    err = r["response"]
    assert set(err) == {"message", "error", "status", "cause"} and err["status"] == 400
    described = {c["description"] for c in err["cause"]}
    assert "payer.address.zip_code is required" in described
    assert "payer.address.federal_unit is required" in described
    assert len(err["cause"]) == 6
    r = offline(sdk, "bolbradesco", payer={"email": "a@example.com"})
    assert len(r["response"]["cause"]) == 10


def test_clabe_transfer(sim, sdk):
    p = offline(sdk, "clabe")["response"]
    assert p["payment_type_id"] == "bank_transfer" and p["currency_id"] == "MXN"
    assert (p["status"], p["status_detail"]) == ("pending", "pending_waiting_transfer")
    assert p["transaction_details"]["external_resource_url"].startswith(sim.url + "/sandbox/")
    clabe = p["transaction_details"]["payment_method_reference_id"]
    assert len(clabe) == 18 and clabe.isdigit()
    # Where Mercado Pago's SPEI guide shows the transfer reference.
    reference = p["payment_method"]["data"]["reference_id"]
    assert len(reference) == 19 and reference.isdigit()
    bank = p["point_of_interaction"]["transaction_data"]["bank_info"]
    assert bank["collector"]["account_id"] == clabe


def test_offline_expiry_cancels_unpaid_only(sim, sdk, receiver):
    pix = offline(sdk, "pix", receiver.url, date_of_expiration=in_seconds(1.0))["response"]
    paid = offline(sdk, "oxxo", receiver.url, date_of_expiration=in_seconds(1.0))["response"]
    assert pix["date_of_expiration"].endswith("-04:00")
    control(sim, "POST", f"/_sim/payments/{paid['id']}/status", {"status": "approved"})
    notes = receiver.wait_for(4, timeout=4)
    expired = sdk.payment().get(pix["id"])["response"]
    assert (expired["status"], expired["status_detail"]) == ("cancelled", "expired")
    assert sdk.payment().get(paid["id"])["response"]["status"] == "approved"
    updates = [n for n in notes if n.json()["action"] == "payment.updated"]
    assert {n.json()["data"]["id"] for n in updates} == {str(pix["id"]), str(paid["id"])}
    assert len(delivered(sim, receiver)) == 4
    past = offline(sdk, "pix", date_of_expiration="2020-01-01T00:00:00.000-04:00")
    assert past["status"] == 400


# --- 4. 3-D Secure --------------------------------------------------------------------------
def test_three_ds_challenge_page(sim, sdk, receiver):
    p = pay(sdk, card_token(sdk, "3DSC"), notification_url=receiver.url,
            three_d_secure_mode="optional")["response"]
    assert (p["status"], p["status_detail"]) == ("pending", "pending_challenge")
    info = p["three_ds_info"]
    assert info["external_resource_url"] == f"{sim.url}/sandbox/3ds/{p['id']}"
    assert info["creq"]
    page = requests.get(info["external_resource_url"], timeout=5)
    assert page.status_code == 200 and "<form" in page.text and "approve" in page.text
    done = requests.post(info["external_resource_url"], data={"result": "approve"}, timeout=5)
    assert done.status_code == 200
    got = sdk.payment().get(p["id"])["response"]
    assert (got["status"], got["status_detail"]) == ("approved", "accredited")
    assert kinds(receiver.wait_for(2)) == [("payment", "payment.created"),
                                           ("payment", "payment.updated")]
    again = requests.post(info["external_resource_url"], data={"result": "reject"}, timeout=5)
    assert again.status_code == 400


def test_three_ds_control_reject_and_no_mode(sim, sdk):
    p = pay(sdk, card_token(sdk, "3DSC"), three_d_secure_mode="mandatory")["response"]
    moved = control(sim, "POST", f"/_sim/payments/{p['id']}/3ds", {"result": "reject"})
    assert (moved["status"], moved["status_detail"]) == ("rejected", "cc_rejected_3ds_challenge")
    plain = pay(sdk, card_token(sdk, "3DSC"))["response"]
    assert plain["status"] == "approved" and plain["three_ds_info"] is None
    assert pay(sdk, card_token(sdk), three_d_secure_mode="always")["status"] == 400


# --- 5. refunds -----------------------------------------------------------------------------
def test_partial_then_full_refund(sim, sdk, receiver):
    p = pay(sdk, card_token(sdk), notification_url=receiver.url)["response"]
    first = sdk.refund().create(p["id"], {"amount": 30}, options("refund-1"))
    assert first["status"] == 201, first
    r1 = first["response"]
    assert r1["payment_id"] == p["id"] and r1["amount"] == 30 and r1["status"] == "approved"
    assert {"id", "date_created", "source"} <= set(r1)
    again = sdk.refund().create(p["id"], {"amount": 30}, options("refund-1"))
    assert again["status"] == 201 and again["response"]["id"] == r1["id"]
    partial = sdk.payment().get(p["id"])["response"]
    assert (partial["status"], partial["status_detail"]) == ("approved", "partially_refunded")
    assert partial["transaction_amount_refunded"] == 30
    assert [r["id"] for r in partial["refunds"]] == [r1["id"]]

    over = sdk.refund().create(p["id"], {"amount": 70.01}, options())
    assert over["status"] == 400 and causes(over["response"]) == {4040}
    zero = sdk.refund().create(p["id"], {"amount": 0}, options())
    assert zero["status"] == 400 and causes(zero["response"]) == {4040}  # must be positive
    text = sdk.refund().create(p["id"], {"amount": "ten"}, options())
    assert text["status"] == 400 and causes(text["response"]) == {4041}  # must be numeric

    rest = sdk.refund().create(p["id"], {}, options("refund-2"))
    assert rest["status"] == 201 and rest["response"]["amount"] == 70
    full = sdk.payment().get(p["id"])["response"]
    assert (full["status"], full["status_detail"]) == ("refunded", "refunded")
    assert full["transaction_amount_refunded"] == 100

    listed = sdk.refund().list_all(p["id"])
    assert listed["status"] == 200
    assert [r["amount"] for r in listed["response"]] == [30, 70]
    one = sdk.refund().get(p["id"], r1["id"])
    assert one["status"] == 200 and one["response"] == r1
    assert sdk.refund().get(p["id"], 1)["status"] == 404

    more = sdk.refund().create(p["id"], {}, options())
    assert more["status"] == 400 and causes(more["response"]) == {2063}
    notes = receiver.wait_for(3)
    assert kinds(notes) == [("payment", "payment.created")] + [("payment", "payment.updated")] * 2
    assert len(delivered(sim, receiver)) == 3


def test_refund_not_allowed(sim, sdk):
    rejected = pay(sdk, card_token(sdk, "OTHE"))["response"]
    r = sdk.refund().create(rejected["id"], {}, options())
    assert r["status"] == 400 and causes(r["response"]) == {2063}
    assert r["response"]["message"] == (
        "The action requested is not valid for the current payment state")
    pending = offline(sdk, "pix")["response"]
    assert sdk.refund().create(pending["id"], {}, options())["status"] == 400
    old = pay(sdk, card_token(sdk))["response"]
    control(sim, "POST", f"/_sim/payments/{old['id']}/backdate", {"days": 181})
    too_old = sdk.refund().create(old["id"], {}, options())
    assert too_old["status"] == 400 and causes(too_old["response"]) == {2024}
    missing_key = api(sim, "POST", f"/v1/payments/{old['id']}/refunds", json={})
    assert missing_key.status_code == 400 and causes(missing_key.json()) == {4292}
    assert sdk.refund().create(1, {}, options())["status"] == 404


def test_payment_without_idempotency_key_is_400_cause_4292(sim, sdk):
    r = api(sim, "POST", "/v1/payments", json={
        "transaction_amount": 10, "token": card_token(sdk), "payment_method_id": "master",
        "installments": 1, "payer": {"email": "buyer@example.com"}})
    assert r.status_code == 400 and causes(r.json()) == {4292}
    assert r.json()["message"] == "Header X-Idempotency-Key can't be null"


def test_pix_refund_held_in_contingency(sim, sdk, receiver):
    p = offline(sdk, "pix", receiver.url)["response"]
    control(sim, "POST", f"/_sim/payments/{p['id']}/status", {"status": "approved"})
    control(sim, "POST", "/_sim/refunds/contingency", {"count": 2, "seconds": 0.5})
    render = RequestOptions(custom_headers={"x-idempotency-key": uuid.uuid4().hex,
                                            "X-Render-In-Process-Refunds": "true"})
    held = sdk.refund().create(p["id"], {"amount": 10}, render)
    assert held["status"] == 201 and held["response"]["status"] == "in_process"
    assert sdk.payment().get(p["id"])["response"]["status_detail"] == "accredited"
    # Without the header, a held refund is reported as a 400.
    plain = sdk.refund().create(p["id"], {"amount": 5}, options())
    assert plain["status"] == 400
    def both_refunded() -> dict[str, Any] | None:
        got = sdk.payment().get(p["id"])["response"]
        return got if got["transaction_amount_refunded"] == 15 else None

    after = wait_until(both_refunded, 10, "both held refunds to be approved")
    assert (after["status"], after["status_detail"]) == ("approved", "partially_refunded")
    assert sorted(r["status"] for r in after["refunds"]) == ["approved", "approved"]


# --- 6. cancellation ------------------------------------------------------------------------
def test_cancel_pending_and_refuse_approved(sdk, receiver):
    p = offline(sdk, "pix", receiver.url)["response"]
    cancelled = sdk.payment().update(p["id"], {"status": "cancelled"})
    assert cancelled["status"] == 200
    assert (cancelled["response"]["status"], cancelled["response"]["status_detail"]) == (
        "cancelled", "by_collector")
    assert kinds(receiver.wait_for(2))[1] == ("payment", "payment.updated")
    approved = pay(sdk, card_token(sdk))["response"]
    refused = sdk.payment().update(approved["id"], {"status": "cancelled"})
    assert refused["status"] == 400 and causes(refused["response"]) == {2063}


# --- 7. chargebacks -------------------------------------------------------------------------
def test_chargeback_control(sim, sdk, receiver):
    p = pay(sdk, card_token(sdk), notification_url=receiver.url)["response"]
    receiver.wait_for(1)
    opened = control(sim, "POST", f"/_sim/payments/{p['id']}/chargeback", {"amount": 60})
    cb = opened["chargeback"]
    got = sdk.chargeback().get(cb["id"])
    assert got["status"] == 200
    doc = got["response"]
    assert doc["payments"] == [p["id"]] and doc["amount"] == 60 and doc["currency"] == "BRL"
    assert doc["coverage_applied"] is False and doc["coverage_elegible"] is True  # (sic)
    assert "coverage_eligible" not in doc
    assert doc["documentation_required"] is True and doc["documentation_status"] == "pending"
    assert doc["live_mode"] is False and doc["date_created"] and doc["date_last_updated"]
    payment = sdk.payment().get(p["id"])["response"]
    assert (payment["status"], payment["status_detail"]) == ("charged_back", "in_process")
    notes = receiver.wait_for(3)
    assert kinds(notes) == [("payment", "payment.created"), ("payment", "payment.updated"),
                            ("topic_chargebacks_wh", "changed_case_status")]
    (note,) = [n for n in notes if n.json()["type"] == "topic_chargebacks_wh"]
    assert note.query["type"] == ["topic_chargebacks_wh"]
    # the Webhooks guide's shape: actions list, numeric data.id and data.payment_id
    assert note.json()["actions"] == ["changed_case_status"] and "action" not in note.json()
    assert note.query["data.id"] == [cb["id"]] and note.json()["data"]["id"] == int(cb["id"])
    assert note.json()["data"]["payment_id"] == p["id"]
    again = requests.post(f"{sim.url}/_sim/payments/{p['id']}/chargeback", json={}, timeout=5)
    assert again.status_code == 400
    assert sdk.chargeback().get("1")["status"] == 404


def test_status_control_charged_back_and_mediation(sim, sdk):
    p = pay(sdk, card_token(sdk))["response"]
    control(sim, "POST", f"/_sim/payments/{p['id']}/status", {"status": "charged_back"})
    found = sdk.chargeback().search({"payment_id": p["id"]})["response"]
    assert found["paging"]["total"] == 1 and found["results"][0]["amount"] == 100
    q = pay(sdk, card_token(sdk))["response"]
    moved = control(sim, "POST", f"/_sim/payments/{q['id']}/status", {"status": "in_mediation"})
    assert moved["status"] == "in_mediation"
    assert control(sim, "GET", "/_sim/health")["chargebacks"] == 1


# --- 8, 9. Checkout Pro, hosted page, merchant orders -------------------------------------
def preference(sdk, receiver, **extra):
    body = {
        "items": [
            {"id": "sku-1", "title": "T-shirt", "quantity": 2, "unit_price": 25.5,
             "currency_id": "BRL"},
            {"id": "sku-2", "title": "Cap", "quantity": 1, "unit_price": 49.0,
             "currency_id": "BRL"},
        ],
        "payer": {"email": "buyer@example.com"},
        "back_urls": {"success": "https://shop.example/ok?x=1",
                      "failure": "https://shop.example/fail",
                      "pending": "https://shop.example/pending"},
        "auto_return": "approved",
        "notification_url": receiver.url,
        "external_reference": "order-pref-1",
        "metadata": {"order_id": "order-pref-1"},
        **extra,
    }
    result = sdk.preference().create(body)
    assert result["status"] == 201, result
    return result["response"]


def test_preference_create_get_and_validation(sim, sdk, receiver):
    pref = preference(sdk, receiver, expires=True, expiration_date_to=in_seconds(3600))
    collector, _, rest = pref["id"].partition("-")
    assert collector.isdigit() and uuid.UUID(rest)
    assert pref["init_point"] == f"{sim.url}/checkout/v1/redirect?pref_id={pref['id']}"
    assert pref["sandbox_init_point"] == (
        f"{sim.url}/sandbox/checkout/v1/redirect?pref_id={pref['id']}")
    assert pref["external_reference"] == "order-pref-1" and pref["auto_return"] == "approved"
    assert pref["notification_url"] == receiver.url and pref["expires"] is True
    assert len(pref["items"]) == 2 and pref["back_urls"]["failure"] == "https://shop.example/fail"
    assert pref["date_created"] and pref["expiration_date_to"]
    got = sdk.preference().get(pref["id"])
    assert got["status"] == 200 and got["response"] == pref
    assert sdk.preference().get("nope")["status"] == 404
    for bad in ([], [{"title": "x", "quantity": 1, "unit_price": 0}],
                [{"title": "a", "quantity": 1, "unit_price": 1, "currency_id": "BRL"},
                 {"title": "b", "quantity": 1, "unit_price": 1, "currency_id": "ARS"}]):
        r = sdk.preference().create({"items": bad})
        assert r["status"] == 400 and r["response"]["status"] == 400, bad


def test_hosted_page_approved_redirects_and_notifies(sim, sdk, receiver):
    pref = preference(sdk, receiver)
    page = requests.get(pref["init_point"], timeout=5)
    assert page.status_code == 200
    assert "T-shirt" in page.text and "Cap" in page.text and "100.00" in page.text
    assert all(o in page.text for o in ("APRO", "OTHE", "CONT", "PIX"))
    done = requests.post(pref["sandbox_init_point"], data={"outcome": "APRO"}, timeout=5,
                         allow_redirects=False)
    assert done.status_code == 302
    location = urlsplit(done.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://shop.example/ok"
    q = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert q["x"] == "1" and q["status"] == q["collection_status"] == "approved"
    assert q["payment_id"] == q["collection_id"] and q["preference_id"] == pref["id"]
    assert q["external_reference"] == "order-pref-1" and q["payment_type"] == "credit_card"
    payment = sdk.payment().get(q["payment_id"])["response"]
    assert payment["transaction_amount"] == 100.0 and payment["status"] == "approved"
    assert payment["external_reference"] == "order-pref-1"
    assert payment["order"] == {"id": q["merchant_order_id"], "type": "mercadopago"}
    notes = receiver.wait_for(2)
    assert kinds(notes) == [("payment", "payment.created"), ("topic_merchant_order_wh", "create")]
    (mo_note,) = [n for n in notes if n.json()["type"] == "topic_merchant_order_wh"]
    assert mo_note.query["type"] == ["topic_merchant_order_wh"]
    assert mo_note.query["data.id"] == [q["merchant_order_id"]]
    # body id IS the merchant order; data carries its status, no id
    assert mo_note.json()["id"] == q["merchant_order_id"] and "id" not in mo_note.json()["data"]
    assert mo_note.json()["status"] == mo_note.json()["data"]["status"] == "closed"
    order = sdk.merchant_order().get(q["merchant_order_id"])
    assert order["status"] == 200
    mo = order["response"]
    assert (mo["status"], mo["order_status"]) == ("closed", "paid")
    assert mo["preference_id"] == pref["id"] and mo["external_reference"] == "order-pref-1"
    assert mo["total_amount"] == 100.0 and mo["paid_amount"] == 100.0
    assert mo["refunded_amount"] == 0 and mo["cancelled"] is False
    assert mo["notification_url"] == receiver.url and len(mo["items"]) == 2
    (entry,) = mo["payments"]
    assert entry["id"] == payment["id"] and entry["status"] == "approved"
    assert {"transaction_amount", "total_paid_amount", "currency_id", "status_detail",
            "date_approved", "date_created", "last_modified", "amount_refunded"} <= set(entry)

    # a partial refund keeps the merchant order in sync and notifies it
    sdk.refund().create(payment["id"], {"amount": 40}, options())
    notes = receiver.wait_for(4)
    assert kinds(notes[2:]) == [("payment", "payment.updated"), ("topic_merchant_order_wh", "update")]
    versions = [n.json()["version"] for n in notes if n.json()["type"] == "topic_merchant_order_wh"]
    assert versions == [0, 1]
    mo = sdk.merchant_order().get(q["merchant_order_id"])["response"]
    assert mo["refunded_amount"] == 40 and mo["order_status"] == "partially_reverted"
    assert mo["payments"][0]["amount_refunded"] == 40
    found = sdk.merchant_order().search({"external_reference": "order-pref-1"})
    assert found["status"] == 200
    assert found["response"]["total"] == 1
    assert found["response"]["elements"][0]["id"] == mo["id"]


def test_hosted_page_other_outcomes(sim, sdk, receiver):
    pref = preference(sdk, receiver)
    rejected = requests.post(pref["init_point"], data={"outcome": "OTHE"}, timeout=5,
                             allow_redirects=False)
    assert rejected.headers["Location"].startswith("https://shop.example/fail?")
    pix = control(sim, "POST", f"/_sim/preferences/{pref['id']}/pay", {"outcome": "PIX"})
    assert pix["status"] == "pending"
    assert pix["redirect_url"].startswith("https://shop.example/pending?")
    assert "payment_type=bank_transfer" in pix["redirect_url"]
    mo = sdk.merchant_order().get(pix["merchant_order_id"])["response"]
    assert (mo["status"], mo["order_status"]) == ("opened", "payment_in_process")
    control(sim, "POST", f"/_sim/payments/{pix['payment_id']}/status", {"status": "approved"})
    mo = sdk.merchant_order().get(pix["merchant_order_id"])["response"]
    assert (mo["status"], mo["order_status"], mo["paid_amount"]) == ("closed", "paid", 100.0)
    assert mo["payments"][0]["date_approved"]
    mo_updates = [n for n in receiver.wait_for(6)
                  if n.json()["type"] == "topic_merchant_order_wh"
                  and n.json()["action"] == "update"]
    assert [n.json()["id"] for n in mo_updates] == [str(pix["merchant_order_id"])]
    # no auto_return: an approved payment shows a result page with the way back
    manual = preference(sdk, receiver, auto_return=None)
    page = requests.post(manual["init_point"], data={"outcome": "APRO"}, timeout=5,
                         allow_redirects=False)
    assert page.status_code == 200 and "https://shop.example/ok?x=1&amp;" in page.text
    # no back_urls: a result page
    bare = preference(sdk, receiver, back_urls=None, auto_return=None)
    page = requests.post(bare["init_point"], data={"outcome": "CONT"}, timeout=5,
                         allow_redirects=False)
    assert page.status_code == 200 and "in_process" in page.text
    assert control(sim, "GET", "/_sim/health")["merchant_orders"] == 4


def test_expired_preference_refuses(sim, sdk, receiver):
    pref = preference(sdk, receiver, expires=True,
                      expiration_date_from=in_seconds(-7200), expiration_date_to=in_seconds(-60))
    assert requests.get(pref["init_point"], timeout=5).status_code == 410
    posted = requests.post(pref["init_point"], data={"outcome": "APRO"}, timeout=5,
                           allow_redirects=False)
    assert posted.status_code == 410
    r = requests.post(f"{sim.url}/_sim/preferences/{pref['id']}/pay", json={}, timeout=5)
    assert r.status_code == 410 and r.json()["status"] == 410
    health = control(sim, "GET", "/_sim/health")
    assert health["payments"] == 0 and health["merchant_orders"] == 0
    assert delivered(sim, receiver) == []


# --- 10. search -----------------------------------------------------------------------------
def test_payment_search(sim, sdk):
    a = pay(sdk, card_token(sdk), external_reference="s-1")["response"]
    b = offline(sdk, "pix", external_reference="s-1")["response"]
    pay(sdk, card_token(sdk, "OTHE"), external_reference="s-2")
    control(sim, "POST", f"/_sim/payments/{a['id']}/status",
            {"status": "approved", "status_detail": "accredited"})  # a: most recently updated
    found = sdk.payment().search({
        "range": "date_last_updated", "begin_date": "NOW-1HOURS", "end_date": "NOW",
        "sort": "date_last_updated", "criteria": "desc", "external_reference": "s-1",
    })
    assert found["status"] == 200
    assert [p["id"] for p in found["response"]["results"]] == [a["id"], b["id"]]
    begin = (datetime.now(MP_TZ) - timedelta(minutes=5)).isoformat(timespec="milliseconds")
    end = (datetime.now(MP_TZ) + timedelta(minutes=5)).isoformat(timespec="milliseconds")
    ranged = sdk.payment().search({"range": "date_last_updated", "begin_date": begin,
                                   "end_date": end, "status": "approved"})["response"]
    assert ranged["paging"]["total"] == 1
    future = sdk.payment().search({"range": "date_last_updated", "begin_date": "NOW+1HOURS",
                                   "end_date": "NOW+2HOURS"})["response"]
    assert future["paging"]["total"] == 0
    page = sdk.payment().search({"limit": 2, "offset": 2, "sort": "date_created",
                                 "criteria": "asc"})["response"]
    assert page["paging"] == {"total": 3, "limit": 2, "offset": 2} and len(page["results"]) == 1


# --- webhook shapes (Mercado Pago's Webhooks guide) -------------------------------------------
WIRE_TYPES = {"payment", "topic_merchant_order_wh", "topic_chargebacks_wh", "stop_delivery_op_wh"}


def test_chargeback_case_changes_notify_the_new_status_detail(sim, sdk, receiver):
    p = pay(sdk, card_token(sdk), notification_url=receiver.url)["response"]
    receiver.wait_for(1)
    cb = control(sim, "POST", f"/_sim/payments/{p['id']}/chargeback", {})["chargeback"]
    receiver.wait_for(3)
    moved = control(sim, "POST", f"/_sim/chargebacks/{cb['id']}/case",
                    {"status_detail": "reimbursed"})
    assert (moved["payment"]["status"], moved["payment"]["status_detail"]) == (
        "charged_back", "reimbursed")
    notes = receiver.wait_for(5)
    assert kinds(notes[3:]) == [("payment", "payment.updated"),
                                ("topic_chargebacks_wh", "changed_case_status")]
    r = requests.post(f"{sim.url}/_sim/chargebacks/{cb['id']}/case",
                      json={"status_detail": "won"}, timeout=5)
    assert r.status_code == 400


def test_fraud_alert_shape_signature_and_no_retry(sim, sdk, receiver):
    from shared.adapters.mercadopago import webhooks

    p = pay(sdk, card_token(sdk), notification_url=receiver.url)["response"]
    receiver.wait_for(1)
    receiver.script.extend([500])  # Mercado Pago never retries a fraud alert
    control(sim, "POST", f"/_sim/payments/{p['id']}/fraud_alert", {})
    notes = receiver.wait_for(2)
    assert delivered(sim, receiver)[2:] == []  # drained: no retry was scheduled
    note = notes[1]
    assert note.query == {"source_news": ["webhooks"], "type": ["stop_delivery_op_wh"]}
    body = note.json()
    assert body["type"] == "stop_delivery_op_wh" and body["action"] == "Created"
    assert body["data"]["payment_id"] == p["id"] and "id" not in body["data"]
    assert set(body["data"]) == {"description", "merchant_order", "payment_id", "site_id"}
    # no data.id: the signature covers x-request-id and ts only
    ts = note.headers["x-signature"].split(",")[0].split("=")[1]
    expected = webhooks.sign(SECRET, None, note.headers["x-request-id"], ts)
    assert note.headers["x-signature"] == f"ts={ts},v1={expected}"
    control(sim, "POST", f"/_sim/payments/{p['id']}/fraud_alert", {"query_data_id": True})
    signed = receiver.wait_for(3)[2]
    assert signed.query["data.id"] == [str(p["id"])]


def test_no_ipn_topic_names_in_any_webhooks_envelope(sim, sdk, receiver):
    pref = preference(sdk, receiver)
    paid = control(sim, "POST", f"/_sim/preferences/{pref['id']}/pay", {"outcome": "APRO"})
    control(sim, "POST", f"/_sim/payments/{paid['payment_id']}/chargeback", {})
    control(sim, "POST", f"/_sim/payments/{paid['payment_id']}/fraud_alert", {})
    notes = receiver.wait_for(6)
    for note in notes:
        assert note.json()["type"] in WIRE_TYPES, note.json()
        assert note.query["type"] == [note.json()["type"]]
        assert "topic" not in note.query and "topic" not in note.json()
    assert {n.json()["type"] for n in notes} == WIRE_TYPES


def test_search_range_defaults_to_date_created(sim, sdk):
    old = pay(sdk, card_token(sdk), external_reference="r-1")["response"]
    control(sim, "POST", f"/_sim/payments/{old['id']}/backdate", {"days": 2})
    control(sim, "POST", f"/_sim/payments/{old['id']}/status",
            {"status": "approved", "status_detail": "accredited"})  # updated now
    window = {"begin_date": "NOW-1HOURS", "end_date": "NOW", "external_reference": "r-1"}
    by_default = sdk.payment().search(window)["response"]
    assert by_default["paging"]["total"] == 0  # created two days ago: outside the window
    by_update = sdk.payment().search({**window, "range": "date_last_updated"})["response"]
    assert [r["id"] for r in by_update["results"]] == [old["id"]]
