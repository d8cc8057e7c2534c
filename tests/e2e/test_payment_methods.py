"""Every way a buyer pays, from create_payment to the order's final state."""

from __future__ import annotations

import pytest

from tests.support.e2e_client import PAYER, StackClient

pytestmark = pytest.mark.e2e

BOLETO_PAYER = {**PAYER, "first_name": "Ana", "last_name": "Souza",
                "address": {"zip_code": "06233200", "street_name": "Av. das Nações Unidas",
                            "street_number": "3003", "neighborhood": "Bonfim",
                            "city": "Osasco", "federal_unit": "SP"}}


def _pay(c: StackClient, payment: dict, product: str = "demo-product", payer: dict | None = None,
         **extra: object) -> dict:
    body = {"items": [{"product_id": product, "quantity": 1}], "payment": payment, **extra}
    if payer is not False:
        body["payer"] = payer or PAYER
    r = c.pay(body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _approve(c: StackClient, payment_id: str) -> None:
    c.sim("POST", f"/_sim/payments/{payment_id}/status",
          json={"status": "approved", "status_detail": "accredited"})


def test_pix_answers_the_qr_code_and_is_paid_when_mercado_pago_approves(live, receiver):
    c = StackClient(live)
    answer = _pay(c, {"method": "pix"})
    assert answer["status"] == "pending" and answer["status_detail"] == "pending_waiting_transfer"
    assert answer["qr_code"] and answer["qr_code_base64"] and answer["ticket_url"]
    assert answer["expires_at"]
    assert c.order(answer["order_id"])["status"] == "pending"
    _approve(c, answer["payment_id"])
    c.wait_order(answer["order_id"], "paid")
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.paid"], what="order.paid")


def test_expired_pix_cancels_the_order(live, receiver):
    c = StackClient(live)
    answer = _pay(c, {"method": "pix"})
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/status",
          json={"status": "cancelled", "status_detail": "expired"})
    c.wait_order(answer["order_id"], "cancelled")
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.cancelled"],
               what="order.cancelled")
    # a cancelled order takes no further payment
    again = c.pay(c.body(c.card_token(), order_id=answer["order_id"]))
    assert again.status_code == 409


def test_boleto_needs_the_payer_address_and_then_is_paid(live):
    c = StackClient(live)
    r = c.pay({"items": [{"product_id": "demo-product", "quantity": 1}], "payer": PAYER,
               "payment": {"method": "ticket", "payment_method_id": "bolbradesco"}})
    assert r.status_code == 400 and r.json()["error"]["fields"][0]["path"].startswith("$.payer")
    assert c.docs("orders") == []
    answer = _pay(c, {"method": "ticket", "payment_method_id": "bolbradesco"}, payer=BOLETO_PAYER)
    assert answer["status"] == "pending" and answer["ticket_url"] and answer["expires_at"]
    assert answer.get("barcode")
    _approve(c, answer["payment_id"])
    c.wait_order(answer["order_id"], "paid")


@pytest.mark.parametrize(("method_id", "product"), [("oxxo", "demo-product-mx"),
                                                     ("rapipago", "demo-product-ar"),
                                                     ("pagofacil", "demo-product-ar")])
def test_cash_tickets_in_their_own_currency(live, method_id, product):
    c = StackClient(live)
    answer = _pay(c, {"method": "ticket", "payment_method_id": method_id}, product=product)
    assert answer["ticket_url"] and answer["expires_at"]
    _approve(c, answer["payment_id"])
    c.wait_order(answer["order_id"], "paid")


def test_a_method_outside_its_currency_is_422_and_writes_nothing(live):
    c = StackClient(live)
    r = c.pay({"items": [{"product_id": "demo-product", "quantity": 1}], "payer": PAYER,
               "payment": {"method": "ticket", "payment_method_id": "oxxo"}})
    assert r.status_code == 422 and r.json()["error"]["code"] == "method_not_available"
    r = c.pay({"items": [{"product_id": "demo-product-mx", "quantity": 1}], "payer": PAYER,
               "payment": {"method": "pix"}})
    assert r.status_code == 422
    assert c.docs("orders") == []


def test_spei_transfer_answers_the_transfer_data_and_is_paid(live):
    c = StackClient(live)
    answer = _pay(c, {"method": "bank_transfer", "payment_method_id": "clabe"},
                  product="demo-product-mx")
    assert answer["status"] == "pending" and answer["transfer"] and answer["expires_at"]
    _approve(c, answer["payment_id"])
    c.wait_order(answer["order_id"], "paid")


def test_checkout_pro_preference_paid_on_the_hosted_page(live, receiver):
    c = StackClient(live)
    answer = _pay(c, {"method": "checkout_pro"}, payer=False)
    assert answer["status"] == "pending" and answer["preference_id"]
    assert answer["init_point"].startswith(c.urls.simulator)
    assert answer["sandbox_init_point"]  # test credentials: the sandbox link is given too
    page = c.http.get(answer["init_point"], timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    paid = c.sim("POST", f"/_sim/preferences/{answer['preference_id']}/pay",
                 json={"outcome": "APRO"})
    order = c.wait_order(answer["order_id"], "paid")
    assert order["amount"] == "100.00" and paid["payment_id"]
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.paid"], what="order.paid")


def test_card_with_3ds_challenge_answers_the_challenge_and_is_paid_after_it(live):
    c = StackClient(live)
    r = c.pay(holder="3DSC")
    assert r.status_code == 201, r.text
    answer = r.json()
    assert answer["status"] == "pending" and answer["status_detail"] == "pending_challenge"
    assert answer["challenge_url"]
    assert c.order(answer["order_id"])["status"] == "pending"
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/3ds", json={"result": "approve"})
    c.wait_order(answer["order_id"], "paid")


def test_merchant_order_notification_alone_pays_the_order(live):
    """Only the merchant_order topic arrives: fulfil fetches it and applies its payments."""
    c = StackClient(live)
    answer = _pay(c, {"method": "checkout_pro"}, payer=False)
    c.sim("POST", "/_sim/notifications", json={"mode": "drop"})
    paid = c.sim("POST", f"/_sim/preferences/{answer['preference_id']}/pay",
                 json={"outcome": "APRO"})
    assert c.order(answer["order_id"])["status"] == "pending"
    r = c.notify(str(paid["merchant_order_id"]), topic="topic_merchant_order_wh", action="update",
                 notification_id=515)
    assert r.json() == {"status": "queued"}
    c.wait_order(answer["order_id"], "paid")
