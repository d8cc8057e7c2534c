"""Issue 8's money edges through the running stack: a charge whose answer was lost keeps its
order, orphan payments are kept for the operator, the shop hears about every transition
whoever applies it, refunds are idempotent and PIX refunds may be in process."""

from __future__ import annotations

import secrets
import uuid

import pytest

from local.stack import MP_ACCESS_TOKEN
from tests.support.e2e_client import StackClient, mpctl

pytestmark = pytest.mark.e2e


def _paid_order(c: StackClient) -> dict:
    r = c.pay()
    assert r.status_code == 201, r.text
    answer = dict(r.json())
    c.wait_order(answer["order_id"], "paid")
    return answer


# -- 1. a charge whose outcome is unknown keeps its order ----------------------------------
def test_a_lost_answer_after_the_charge_keeps_the_order_and_the_retry_answers_201(live,
                                                                                  receiver):
    c = StackClient(live)
    token = c.card_token()
    # Mercado Pago creates (and charges) the payment, then answers 500.
    c.fault(status=500, count=1, phase="after", method="POST", path_prefix="/v1/payments")
    r = c.pay(c.body(token))
    assert r.status_code == 503, r.text
    error = r.json()["error"]
    assert error["code"] == "payment_outcome_unknown" and error["retryable"] is True
    assert r.headers["Retry-After"]
    order_id = error["order_id"]
    # The notification for the approved payment finds the kept order: paid, one order.paid.
    c.wait_order(order_id, "paid")
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.paid"],
               what="one order.paid")
    # The buyer's retry (same order and token) is the same attempt: same payment, 201.
    retry = c.pay(c.body(token, order_id=order_id))
    assert retry.status_code == 201, retry.text
    [payment] = c.sim_payments_for(order_id)
    assert retry.json()["order_id"] == order_id
    assert retry.json()["payment_id"] == str(payment["id"])
    assert [o["_id"] for o in c.docs("orders")] == [order_id]
    assert c.docs("dead_letters") == []
    assert [e["type"] for e in receiver.payloads()] == ["order.paid"]


def test_a_keyed_retry_after_the_order_was_paid_answers_201(live):
    c = StackClient(live)
    body = c.body(c.card_token())
    key = {"Idempotency-Key": "lost-answer-1"}
    c.fault(status=502, count=1, phase="after", method="POST", path_prefix="/v1/payments")
    r = c.pay(body, key)
    order_id = r.json()["error"]["order_id"]
    c.wait_order(order_id, "paid")
    retry = c.pay(body, key)
    assert retry.status_code == 201, retry.text
    [payment] = c.sim_payments_for(order_id)
    assert (retry.json()["order_id"], retry.json()["payment_id"]) == (order_id,
                                                                        str(payment["id"]))


def _orphan_payment(c: StackClient, reference: str) -> dict:
    """A payment made at Mercado Pago for an order this database does not have."""
    r = c.http.post(f"{c.urls.simulator}/v1/payments", timeout=10, headers={
        "Authorization": f"Bearer {MP_ACCESS_TOKEN}", "X-Idempotency-Key": uuid.uuid4().hex},
        json={"transaction_amount": 100, "token": c.card_token(), "payment_method_id": "master",
              "installments": 1, "payer": {"email": "buyer@example.com"},
              "external_reference": reference,
              "notification_url": c.stack.function_env["NOTIFICATION_URL"]
              + "?source_news=webhooks"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_an_orphan_payment_is_recorded_listed_and_refundable(live):
    c = StackClient(live)
    reference = "ord_" + secrets.token_urlsafe(18)
    payment = _orphan_payment(c, reference)
    pid = str(payment["id"])
    [anomaly] = c.wait_for(lambda: c.docs("anomalies"), what="orphan anomaly")
    assert anomaly["_id"] == f"orphan_payment-{pid}" and anomaly["kind"] == "orphan_payment"
    assert anomaly["external_reference"] == reference and anomaly["status"] == "approved"
    c.wait_for(lambda: '"orphan_payment"' in live.log_path("fulfill").read_text()
               and '"ALERT"' in live.log_path("fulfill").read_text(), what="ALERT log")
    assert c.docs("dead_letters") == []
    code, listed, err = mpctl(live, "anomalies", "list")
    assert code == 0, err
    assert [(a["id"], a["kind"]) for a in listed] == [(f"orphan_payment-{pid}",
                                                       "orphan_payment")]
    code, out, err = mpctl(live, "refund-payment", pid)
    assert code == 0, err
    assert out["amount"] == "100.00" and out["refund_status"] == "approved"
    [sim_payment] = c.sim_payments_for(reference)
    assert sim_payment["status"] == "refunded"
    assert c.docs("anomalies")[0]["resolution"] == "refunded"
    code, _, err = mpctl(live, "refund-payment", pid)  # no longer approved
    assert code == 1 and "not_refundable" in err


def test_refund_payment_refuses_a_payment_that_is_not_an_orphan(live):
    c = StackClient(live)
    answer = _paid_order(c)
    code, _, err = mpctl(live, "refund-payment", answer["payment_id"])
    assert code == 1 and "not_an_orphan" in err
    assert c.sim_payments_for(answer["order_id"])[0]["status"] == "approved"


# -- 3. the shop hears about every transition, whoever applies it ---------------------------
def test_a_refund_from_a_shell_without_the_shop_url_still_reaches_the_shop(live, receiver):
    c = StackClient(live)
    answer = _paid_order(c)
    # Hold Mercado Pago's notification so that mpctl, not fulfill, applies the refund.
    c.sim("POST", "/_sim/notifications", json={"mode": "hold"})
    code, out, err = mpctl(live, "refund", answer["order_id"],
                           without=("MERCHANT_WEBHOOK_URL", "MERCHANT_WEBHOOK_SECRET"))
    assert code == 0, err
    assert out["order_status"] == "refunded"
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.paid",
                                                                    "order.refunded"],
               what="order.refunded delivered by fulfill")
    delivered = len(c.sim("GET", "/_sim/notifications/log")["deliveries"])
    c.sim("POST", "/_sim/notifications", json={"mode": "deliver"})
    c.sim("POST", "/_sim/notifications/flush", json={})
    c.wait_for(lambda: len(c.sim("GET", "/_sim/notifications/log")["deliveries"]) > delivered,
               what="the held notification delivered")
    assert [e["type"] for e in receiver.payloads()] == ["order.paid", "order.refunded"]


def test_a_cancel_from_a_shell_without_the_shop_url_still_reaches_the_shop(live, receiver):
    c = StackClient(live)
    r = c.pay({"items": [{"product_id": "demo-product", "quantity": 1}],
               "payer": {"email": "buyer@example.com"}, "payment": {"method": "checkout_pro"}})
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    code, _, err = mpctl(live, "cancel", order_id, without=("MERCHANT_WEBHOOK_URL",))
    assert code == 0, err
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.cancelled"],
               what="order.cancelled delivered by fulfill")


# -- 4. refunds and offline methods --------------------------------------------------------
def test_the_same_refund_run_twice_refunds_once_unless_again(live, receiver):
    c = StackClient(live)
    answer = _paid_order(c)
    first = mpctl(live, "refund", answer["order_id"], "--amount", "10")
    assert first[0] == 0, first[2]
    code, repeated, err = mpctl(live, "refund", answer["order_id"], "--amount", "10")
    assert code == 0, err
    assert repeated["repeated"] is True and repeated["refund_id"] == first[1]["refund_id"]
    assert repeated["amount"] == "10.00" and repeated["refunded_at"]
    [sim_payment] = c.sim_payments_for(answer["order_id"])
    assert len(sim_payment["refunds"]) == 1
    code, forced, err = mpctl(live, "refund", answer["order_id"], "--amount", "10", "--again")
    assert code == 0, err
    assert forced["refund_id"] != first[1]["refund_id"]
    [sim_payment] = c.sim_payments_for(answer["order_id"])
    assert [r["amount"] for r in sim_payment["refunds"]] == [10, 10]


def test_a_pix_refund_in_process_is_pending_then_the_order_follows(live, receiver):
    c = StackClient(live)
    r = c.pay({"items": [{"product_id": "demo-product", "quantity": 1}],
               "payer": {"email": "buyer@example.com"}, "payment": {"method": "pix"}})
    answer = r.json()
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/status",
          json={"status": "approved", "status_detail": "accredited"})
    c.wait_order(answer["order_id"], "paid")
    c.sim("POST", "/_sim/refunds/contingency", json={"count": 1, "seconds": 1.5})
    code, out, err = mpctl(live, "refund", answer["order_id"])
    assert code == 0, err
    assert out["refund_status"] == "in_process" and out["order_status"] == "paid"
    c.wait_order(answer["order_id"], "refunded")
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.paid",
                                                                    "order.refunded"],
               what="order.refunded once confirmed")


def test_a_refund_past_the_window_names_the_cause(live):
    c = StackClient(live)
    answer = _paid_order(c)
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/backdate", json={"days": 181})
    code, _, err = mpctl(live, "refund", answer["order_id"])
    assert code == 1 and "refund_period_expired" in err and "2024" in err


def test_spei_answer_gives_the_reference_and_the_instructions(live):
    c = StackClient(live)
    r = c.pay({"items": [{"product_id": "demo-product-mx", "quantity": 1}],
               "payer": {"email": "buyer@example.com"},
               "payment": {"method": "bank_transfer", "payment_method_id": "clabe"}})
    assert r.status_code == 201, r.text
    answer = r.json()
    [payment] = c.sim_payments_for(answer["order_id"])
    assert answer["transfer"]["reference"] == payment["payment_method"]["data"]["reference_id"]
    assert answer["ticket_url"] == payment["transaction_details"]["external_resource_url"]


def test_checkout_pro_paid_order_shows_its_last_payment(live):
    c = StackClient(live)
    r = c.pay({"items": [{"product_id": "demo-product", "quantity": 1}],
               "payment": {"method": "checkout_pro"}})
    pref = r.json()["preference_id"]
    paid = c.sim("POST", f"/_sim/preferences/{pref}/pay", json={"outcome": "APRO"})
    order = c.wait_order(r.json()["order_id"], "paid")
    payment_id = str(paid["payment_id"])
    assert order["last_payment"] == {"id": payment_id, "status": "approved",
                                     "status_detail": "accredited"}
