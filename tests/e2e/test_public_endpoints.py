"""create_payment's and ipn_webhook's small public endpoints, and the browser-facing parts of
the simulator (CORS on /v1/card_tokens, the SDK stand-in, the 3DS creq post)."""

from __future__ import annotations

import pytest
import requests

from local.stack import MP_PUBLIC_KEY
from tests.support.e2e_client import StackClient

pytestmark = pytest.mark.e2e


def test_health_on_both_public_functions(live):
    for url in (live.endpoints.create_payment, live.endpoints.ipn_webhook):
        r = requests.get(url + "/health", timeout=5)
        assert r.status_code == 200 and r.json() == {"status": "ok", "revision": "local"}


def test_products_answer_public_prices_and_404_for_unknown_inactive_or_reserved(live):
    base = live.endpoints.create_payment
    r = requests.get(base + "/products/demo-product", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"id": "demo-product", "title": "Demo product", "unit_price": "100.00",
                        "currency": "BRL", "active": True}
    for product in ("demo-inactive", "nope", "__reserved__", "%2E%2E"):
        r = requests.get(f"{base}/products/{product}", timeout=5)
        assert r.status_code == 404 and r.json()["error"]["code"] == "product_not_found", product
    r = requests.post(base + "/products/demo-product", json={}, timeout=5)
    assert r.status_code == 405


def test_paths_the_framework_refuses_still_answer_json(live):
    base = live.endpoints.create_payment
    for path in ("/orders/%0Aabc", "/robots.txt", "/favicon.ico"):
        r = requests.get(base + path, timeout=5)
        assert r.status_code == 404, path
        assert r.headers["Content-Type"].startswith("application/json"), path
        assert r.json()["error"]["code"] == "not_found"


def test_cors_allows_the_device_session_header(live):
    origin = live.endpoints.storefront.rstrip("/")
    r = requests.options(live.endpoints.create_payment + "/", timeout=5, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,idempotency-key,x-meli-session-id"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "X-Meli-Session-Id" in r.headers["Access-Control-Allow-Headers"]


def test_simulator_answers_card_token_preflights_like_the_real_api(live):
    url = f"{live.endpoints.simulator}/v1/card_tokens?public_key={MP_PUBLIC_KEY}"
    origin = live.endpoints.storefront.rstrip("/")
    r = requests.options(url, timeout=5, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "content-type"
    token = requests.post(url, headers={"Origin": origin}, timeout=5, json={
        "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123", "cardholder": {"name": "APRO"}})
    assert token.status_code == 201
    assert token.headers["Access-Control-Allow-Origin"] == origin


def test_simulator_serves_the_sdk_stand_in_and_security_js(live):
    for path, marker in (("/js/v2", "window.MercadoPago"), ("/v2/security.js",
                                                            "MP_DEVICE_SESSION_ID")):
        r = requests.get(live.endpoints.simulator + path, timeout=5)
        assert r.status_code == 200 and marker in r.text
        assert r.headers["Content-Type"].startswith("application/javascript")


def test_3ds_page_takes_the_creq_post_and_refuses_a_foreign_one(live):
    c = StackClient(live)
    answer = c.pay(c.body(c.card_token("3DSC"))).json()
    assert answer["status_detail"] == "pending_challenge"
    page = requests.post(answer["challenge_url"], data={"creq": answer["creq"]}, timeout=5)
    assert page.status_code == 200 and "Approve" in page.text
    bad = requests.post(answer["challenge_url"], data={"creq": "e30"}, timeout=5)  # "{}"
    assert bad.status_code == 400
    done = requests.post(answer["challenge_url"], data={"result": "approve"}, timeout=5)
    assert done.status_code == 200 and "approved" in done.text
    c.wait_order(answer["order_id"], "paid")
