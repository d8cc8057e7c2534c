"""The Mercado Pago simulator, driven by the official SDK (only its base URL is changed)."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from datetime import datetime, timedelta

import mercadopago
import pytest
import requests
from mercadopago.config import RequestOptions
from mercadopago.webhook import WebhookSignatureValidator

from local.mp_simulator import start_simulator
from tests.support.receiver import Receiver
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

CONT_DELAY = 0.3
RETRY_DELAYS = (0.2, 0.3)

pytestmark = [
    pytest.mark.timeout(60),
    # mercadopago 3.6.0 warns on every notification_url; the simulator still honours it
    pytest.mark.filterwarnings("ignore:notification_url is deprecated:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def sim():
    handle = start_simulator(
        access_token=ACCESS_TOKEN, public_key=PUBLIC_KEY, webhook_secret=SECRET,
        cont_delay=CONT_DELAY, retry_delays=RETRY_DELAYS, receiver_timeout=2.0,
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


def test_card_token_shape(sdk):
    result = sdk.card_token().create({
        "card_number": "4235647728025682", "expiration_month": "12",
        "expiration_year": str(datetime.now().year + 1), "security_code": "123",
        "cardholder": {"name": "APRO", "identification": {"type": "CPF", "number": "1"}},
    })
    assert result["status"] == 201
    token = result["response"]
    assert token["first_six_digits"] == "423564"
    assert token["last_four_digits"] == "5682"
    assert token["live_mode"] is False
    assert token["cardholder"]["name"] == "APRO"
    assert {"id", "date_created", "date_due", "expiration_month", "expiration_year"} <= set(token)
    assert "card_number" not in token and "security_code" not in token


def test_card_token_validation_and_public_key(sim):
    url = sim.url + "/v1/card_tokens"
    bad = {"card_number": "12", "expiration_month": 1, "expiration_year": 2001,
           "security_code": "1", "cardholder": {"name": "APRO"}}
    r = requests.post(url, params={"public_key": PUBLIC_KEY}, json=bad, timeout=5)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400 and body["error"] == "bad_request"
    codes = {c["code"] for c in body["cause"]}
    assert {"E301", "326", "E302"} <= codes
    good = {**bad, "card_number": "5031433215406351", "security_code": "123",
            "expiration_year": datetime.now().year + 1}
    r = requests.post(url, params={"public_key": "TEST-wrong"}, json=good, timeout=5)
    assert r.status_code == 401
    r = requests.post(url, params={"public_key": PUBLIC_KEY}, json=good, timeout=5)
    assert r.status_code == 201


def test_apro_approved(sdk):
    result = pay(sdk, card_token(sdk, "APRO"))
    assert result["status"] == 201
    p = result["response"]
    assert p["status"] == "approved" and p["status_detail"] == "accredited"
    assert isinstance(p["id"], int) and p["id"] > 2**32
    assert p["currency_id"] == "BRL"
    assert p["payment_type_id"] == "credit_card"
    assert p["card"]["first_six_digits"] == "503143"
    assert p["card"]["last_four_digits"] == "6351"
    assert p["card"]["cardholder"]["name"] == "APRO"
    assert p["payer"]["email"] == "buyer@example.com"
    assert p["transaction_details"]["total_paid_amount"] == 100.0
    assert p["transaction_details"]["installment_amount"] == 100.0
    assert p["refunds"] == [] and p["captured"] is True and p["live_mode"] is False
    assert p["date_approved"] and p["money_release_date"] and p["date_last_updated"]
    assert p["metadata"] == {"order_id": "order-1"}
    got = sdk.payment().get(p["id"])
    assert got["status"] == 200 and got["response"] == p


@pytest.mark.parametrize(
    ("name", "status", "detail"),
    [
        ("OTHE", "rejected", "cc_rejected_other_reason"),
        ("CALL", "rejected", "cc_rejected_call_for_authorize"),
        ("FUND", "rejected", "cc_rejected_insufficient_amount"),
        ("SECU", "rejected", "cc_rejected_bad_filled_security_code"),
        ("EXPI", "rejected", "cc_rejected_bad_filled_date"),
        ("FORM", "rejected", "cc_rejected_bad_filled_other"),
        ("JOAO SILVA", "approved", "accredited"),
    ],
)
def test_cardholder_outcomes(sdk, name, status, detail):
    p = pay(sdk, card_token(sdk, name))["response"]
    assert (p["status"], p["status_detail"]) == (status, detail)


def test_cont_pending_then_approved_with_notification(sdk, receiver):
    p = pay(sdk, card_token(sdk, "CONT"), notification_url=receiver.url)["response"]
    assert (p["status"], p["status_detail"]) == ("in_process", "pending_contingency")
    assert p["date_approved"] is None
    seen = receiver.wait_for(2, timeout=CONT_DELAY + 3)
    assert [n.json()["action"] for n in seen] == ["payment.created", "payment.updated"]
    assert {n.json()["data"]["id"] for n in seen} == {str(p["id"])}
    later = sdk.payment().get(p["id"])["response"]
    assert (later["status"], later["status_detail"]) == ("approved", "accredited")
    assert later["date_approved"]


def test_same_idempotency_key_same_payment(sim, sdk, receiver):
    token = card_token(sdk)
    first = pay(sdk, token, key="order-1-attempt", notification_url=receiver.url)
    again = pay(sdk, token, key="order-1-attempt", notification_url=receiver.url)
    assert first["status"] == 201 and again["status"] == 201
    assert first["response"]["id"] == again["response"]["id"]
    receiver.wait_for(1)
    assert len(delivered(sim, receiver)) == 1
    assert control(sim, "GET", "/_sim/health")["payments"] == 1


def test_missing_idempotency_key(sim, sdk):
    body = {"transaction_amount": 10, "token": card_token(sdk), "installments": 1,
            "payment_method_id": "master", "payer": {"email": "a@example.com"}}
    r = requests.post(sim.url + "/v1/payments", json=body, timeout=5,
                      headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
    assert r.status_code == 400
    err = r.json()
    assert set(err) == {"message", "error", "status", "cause"} and err["status"] == 400


def test_reused_token_rejected(sdk):
    token = card_token(sdk)
    assert pay(sdk, token)["status"] == 201
    again = pay(sdk, token)
    assert again["status"] == 400
    err = again["response"]
    assert err["error"] == "bad_request" and err["status"] == 400
    assert err["cause"] and {"code", "description"} <= set(err["cause"][0])
    unknown = pay(sdk, "0" * 32)
    assert unknown["status"] == 400


def test_bad_access_token(sim):
    other = mercadopago.SDK("TEST-wrong-token", http_client=SimulatorHttpClient(sim.url))
    result = other.payment().get(1)
    assert result["status"] == 401
    assert result["response"]["status"] == 401


def test_notification_shape_and_signature(sdk, receiver):
    p = pay(sdk, card_token(sdk), notification_url=receiver.url)["response"]
    (n,) = receiver.wait_for(1)
    assert n.path == "/webhooks/mp"
    assert n.raw_query == f"source_news=webhooks&data.id={p['id']}&type=payment"
    body = n.json()
    assert set(body) == {"id", "live_mode", "type", "date_created", "user_id", "api_version",
                         "action", "data"}
    assert isinstance(body["id"], int) and isinstance(body["user_id"], int)
    assert body["live_mode"] is False and body["type"] == "payment"
    assert body["api_version"] == "v1" and body["action"] == "payment.created"
    assert body["data"] == {"id": str(p["id"])}
    headers = n.headers
    assert headers["content-type"] == "application/json"
    assert "x-retry" not in headers
    request_id = headers["x-request-id"]
    assert uuid.UUID(request_id).version == 4
    parts = dict(part.split("=", 1) for part in headers["x-signature"].split(","))
    assert abs(int(parts["ts"]) - time.time()) < 60
    data_id = n.query["data.id"][0]
    manifest = f"id:{data_id.lower()};request-id:{request_id};ts:{parts['ts']};"
    expected = hmac.new(SECRET.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    WebhookSignatureValidator.validate(headers["x-signature"], request_id, data_id, SECRET)


def test_receiver_500_then_200_is_retried(sim, sdk, receiver):
    receiver.script.extend([500])
    pay(sdk, card_token(sdk), notification_url=receiver.url)
    first, second = receiver.wait_for(2, timeout=3)
    assert first.status == 500 and second.status == 200
    assert second.headers["x-retry"] == "1"
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert second.json() == first.json()
    assert len(delivered(sim, receiver)) == 2
    log = control(sim, "GET", "/_sim/notifications/log")["deliveries"]
    assert [(e["attempt"], e["status_code"]) for e in log] == [(0, 500), (1, 200)]
    assert {e["notification_id"] for e in log} == {first.json()["id"]}


def test_drop_mode_sends_nothing(sim, sdk, receiver):
    control(sim, "POST", "/_sim/notifications", {"mode": "drop"})
    pay(sdk, card_token(sdk), notification_url=receiver.url)
    assert delivered(sim, receiver) == []
    assert control(sim, "GET", "/_sim/notifications/log")["deliveries"] == []
    produced = control(sim, "GET", "/_sim/notifications")["notifications"]
    assert [n["disposition"] for n in produced] == ["dropped"]


def test_hold_then_flush_reverse(sim, sdk, receiver):
    control(sim, "POST", "/_sim/notifications", {"mode": "hold"})
    ids = [str(pay(sdk, card_token(sdk), notification_url=receiver.url)["response"]["id"])
           for _ in range(3)]
    assert delivered(sim, receiver) == []
    assert len(control(sim, "GET", "/_sim/notifications")["held"]) == 3
    flushed = control(sim, "POST", "/_sim/notifications/flush", {"order": "reverse"})
    assert len(flushed["flushed"]) == 3
    seen = receiver.wait_for(3)
    assert [n.json()["data"]["id"] for n in seen] == list(reversed(ids))


def test_duplicates(sim, sdk, receiver):
    control(sim, "POST", "/_sim/notifications", {"duplicates": 3})
    pay(sdk, card_token(sdk), notification_url=receiver.url)
    seen = receiver.wait_for(3)
    assert len({n.json()["id"] for n in seen}) == 1
    assert len({n.headers["x-request-id"] for n in seen}) == 3
    assert len(delivered(sim, receiver)) == 3


def test_fault_503_once_then_success(sim, sdk):
    control(sim, "POST", "/_sim/faults",
            {"status": 503, "count": 1, "path_prefix": "/v1/card_tokens", "method": "POST"})
    failed = sdk.card_token().create({"card_number": "5031433215406351"})
    assert failed["status"] == 503 and failed["response"]["status"] == 503
    card_token(sdk)
    assert control(sim, "GET", "/_sim/faults")["faults"] == []


def test_timeout_fault(sim, sdk):
    p = pay(sdk, card_token(sdk))["response"]
    control(sim, "POST", "/_sim/faults",
            {"timeout_s": 1.5, "path_prefix": "/v1/payments", "method": "GET"})
    with pytest.raises(requests.exceptions.RequestException):
        sdk.payment().get(p["id"], RequestOptions(connection_timeout=1.0))
    control(sim, "DELETE", "/_sim/faults")
    assert sdk.payment().get(p["id"])["status"] == 200


def test_status_control_moves_and_notifies(sim, sdk, receiver):
    p = pay(sdk, card_token(sdk, "OTHE"), notification_url=receiver.url)["response"]
    receiver.wait_for(1)
    moved = control(sim, "POST", f"/_sim/payments/{p['id']}/status",
                    {"status": "approved", "status_detail": "accredited"})
    assert moved["status"] == "approved" and moved["date_approved"]
    assert moved["date_last_updated"] >= p["date_last_updated"]
    seen = receiver.wait_for(2)
    assert seen[1].json()["action"] == "payment.updated"
    assert sdk.payment().get(p["id"])["response"]["status"] == "approved"
    control(sim, "POST", "/_sim/webhooks/resend", {"payment_id": p["id"]})
    third = receiver.wait_for(3)[2]
    assert third.json()["action"] == "payment.updated"
    assert third.json()["id"] != seen[1].json()["id"]


def test_search_by_external_reference(sdk):
    a1 = pay(sdk, card_token(sdk), external_reference="ref-A")["response"]
    a2 = pay(sdk, card_token(sdk), external_reference="ref-A")["response"]
    pay(sdk, card_token(sdk), external_reference="ref-B")
    found = sdk.payment().search({"external_reference": "ref-A", "sort": "date_created",
                                  "criteria": "asc"})
    assert found["status"] == 200
    page = found["response"]
    assert page["paging"]["total"] == 2
    assert [p["id"] for p in page["results"]] == [a1["id"], a2["id"]]
    begin = (datetime.fromisoformat(a1["date_last_updated"]) + timedelta(hours=1)).isoformat()
    later = sdk.payment().search({"external_reference": "ref-A", "range": "date_last_updated",
                                  "begin_date": begin, "end_date": "NOW+2HOURS"})
    assert later["response"]["paging"]["total"] == 0
    paged = sdk.payment().search({"limit": 1, "offset": 1})["response"]
    assert paged["paging"] == {"total": 3, "limit": 1, "offset": 1} and len(paged["results"]) == 1
    assert sdk.payment().get(999)["status"] == 404
