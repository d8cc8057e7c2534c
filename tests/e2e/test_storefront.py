"""The reference checkout page (web/) in headless Chromium against the running stack: the
simulator's SDK stand-in renders the card form, tokenizes, and the page pays through
create_payment and follows the order until it is final."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.processes import free_ports
from local.stack import LocalStack
from tests.support.browser import screenshot
from tests.support.e2e_client import StackClient

pytestmark = pytest.mark.e2e

CARD = {"cardNumber": "5031 4332 1540 6351", "expirationDate": "11/30", "securityCode": "123",
        "identificationNumber": "12345678909", "cardholderEmail": "buyer@example.com"}


def open_checkout(page: Any, stack: LocalStack) -> None:
    page.goto(stack.endpoints.storefront)
    page.wait_for_selector("body[data-payment-state='ready']")
    page.wait_for_selector("input[name='cardNumber']")


def fill_card(page: Any, holder: str) -> None:
    form = page.locator("#cardPaymentBrick_container")
    for name, value in CARD.items():
        form.locator(f"[name='{name}']").fill(value)
    form.locator("[name='cardholderName']").fill(holder)
    form.locator("button[type='submit']").click()


def order_id_on(page: Any) -> str:
    page.wait_for_selector("#order:not([hidden])")
    return str(page.locator("#order").get_attribute("data-order-id"))


def test_apro_card_pays_the_order(live, page):
    c = StackClient(live)
    open_checkout(page, live)
    assert page.locator("#product-title").inner_text() == "Demo product"
    page.fill("#quantity", "2")
    fill_card(page, "APRO")
    page.wait_for_selector("[data-order-status='paid']")
    screenshot(page, "card-apro")
    order = c.order(order_id_on(page))
    assert order["status"] == "paid" and order["amount"] == "200.00"

    # what Mercado Pago received: the approval-rate inputs and the device fingerprint
    [charged] = c.sim_payments_for(order["order_id"])
    info = charged["additional_info"]
    assert info["items"] == [{"id": "demo-product", "title": "Demo product", "quantity": 2,
                              "unit_price": 100, "category_id": "others"}]
    assert info["ip_address"] == "127.0.0.1"
    device = c.sim("GET", f"/_sim/payments/{charged['id']}/device")
    assert str(device["device_session_id"]).startswith("armor.")


def test_othe_card_shows_the_buyer_message_then_apro_pays_the_same_order(live, page):
    c = StackClient(live)
    open_checkout(page, live)
    fill_card(page, "OTHE")
    message = page.locator("#message")
    message.wait_for(state="visible")
    assert message.inner_text() == "Mastercard did not process the payment."
    order_id = order_id_on(page)
    assert page.locator("#order-status").get_attribute("data-order-status") == "pending"
    screenshot(page, "card-othe-message")

    page.wait_for_selector("input[name='cardNumber']")  # the form is back
    fill_card(page, "APRO")
    page.wait_for_selector("[data-order-status='paid']")
    screenshot(page, "card-othe-then-apro")
    assert order_id_on(page) == order_id
    payments = c.sim_payments_for(order_id)
    assert sorted(p["status"] for p in payments) == ["approved", "rejected"]
    assert c.order(order_id)["status"] == "paid"


def test_pix_shows_the_qr_code_and_is_paid_when_approved(live, page):
    c = StackClient(live)
    open_checkout(page, live)
    page.click("#methods button[data-method='pix']")
    page.fill("#pix-form input[name='email']", "buyer@example.com")
    page.click("#pix-form button[type='submit']")
    qr = page.locator("#pix-qr")
    qr.wait_for(state="visible")
    assert page.evaluate("document.getElementById('pix-qr').naturalWidth") > 0  # a real image
    assert page.locator("#pix-code").input_value()
    payment_id = page.locator("#pix-result").get_attribute("data-payment-id")
    screenshot(page, "pix-qr")
    c.sim("POST", f"/_sim/payments/{payment_id}/status",
          json={"status": "approved", "status_detail": "accredited"})
    page.wait_for_selector("[data-order-status='paid']")
    screenshot(page, "pix-paid")


def test_3ds_challenge_approved_in_the_iframe_pays_the_order(live, page):
    open_checkout(page, live)
    fill_card(page, "3DSC")
    frame = page.frame_locator("#statusScreenBrick_container iframe")
    frame.get_by_role("button", name="Approve").click()
    page.wait_for_selector("[data-order-status='paid']")
    screenshot(page, "card-3ds")


def test_unreachable_sdk_shows_payment_unavailable(live, page):
    closed = free_ports(1)[0]  # nothing listens there

    def config(route: Any) -> None:
        response = route.fetch()
        body = response.json() | {"sdk_url": f"http://127.0.0.1:{closed}/js/v2"}
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/config.json", config)
    page.goto(live.endpoints.storefront)
    page.wait_for_selector("body[data-payment-state='unavailable']")
    assert page.locator("#unavailable").is_visible()
    assert "Payment unavailable" in page.locator("#unavailable").inner_text()
    assert page.locator("input[name='cardNumber']").count() == 0
    screenshot(page, "sdk-unavailable")
