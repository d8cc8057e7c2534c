"""The card flow through the running functions: create_payment → simulator → ipn_webhook →
Cloud Tasks emulator → fulfill → Firestore, and the signed merchant event."""

from __future__ import annotations

import json
import time

import pytest

from local.stack import MERCHANT_WEBHOOK_SECRET
from shared.domain import events
from tests.support.e2e_client import StackClient

pytestmark = pytest.mark.e2e


def test_approved_card_pays_the_order_and_emits_one_signed_event(live, receiver):
    c = StackClient(live)
    r = c.pay()
    assert r.status_code == 201, r.text
    answer = r.json()
    assert set(answer) == {"order_id", "payment_id", "status", "status_detail"}
    assert answer["status"] == "approved" and answer["status_detail"] == "accredited"

    order = c.wait_order(answer["order_id"], "paid")
    assert order["amount"] == "200.00" and order["currency"] == "BRL"  # 2 x 100.00 from the catalog
    assert order["items"] == [{"product_id": "demo-product", "title": "Demo product",
                               "quantity": 2, "unit_price": "100.00"}]
    assert order["last_payment"] == {"id": answer["payment_id"], "status": "approved",
                                     "status_detail": "accredited"}
    assert order["paid_at"] and "payer" not in json.dumps(order) and "buyer@" not in json.dumps(order)

    # the simulator charged exactly the server-side price, with our notification URL
    [charged] = c.sim_payments_for(answer["order_id"])
    assert str(charged["transaction_amount"]) in ("200", "200.0", "200.00")
    assert charged["notification_url"].endswith("source_news=webhooks")

    event = c.wait_for(lambda: receiver.snapshot(), what="merchant event")[0]
    payload = json.loads(event.body)
    assert payload["type"] == "order.paid" and payload["order_id"] == answer["order_id"]
    assert payload["amount"] == "200.00" and payload["currency"] == "BRL"
    assert payload["payment_id"] == answer["payment_id"]
    assert payload["id"] == events.event_id("order.paid", answer["order_id"])
    assert events.verify(MERCHANT_WEBHOOK_SECRET, event.headers["x-signature"], event.body,
                         600, time.time())

    stored = {d["_id"]: d for d in c.docs("payments")}
    assert stored[answer["payment_id"]]["status"] == "approved"
    assert c.docs("fulfilments")[0]["state"] == "done"
    c.wait_quiet()  # every delivery and task done: a retry or a duplicate would show now
    assert len(receiver.snapshot()) == 1
    hooks = c.hook_calls(answer["order_id"])
    assert len(hooks) == 1 and hooks[0]["amount"] == "200.00"


def test_rejected_card_leaves_order_pending_then_a_new_token_pays_it(live, receiver):
    c = StackClient(live)
    first = c.pay(holder="FUND")
    assert first.status_code == 201
    answer = first.json()
    assert answer["status"] == "rejected"
    assert answer["status_detail"] == "cc_rejected_insufficient_amount"
    order_id = answer["order_id"]
    c.wait_for(lambda: any(d["_id"] == answer["payment_id"] for d in c.docs("payments")),
               what="rejected payment recorded")
    order = c.order(order_id)
    assert order["status"] == "pending"
    assert order["last_payment"]["status"] == "rejected"

    retry = c.pay(c.body(c.card_token("APRO"), order_id=order_id))
    assert retry.status_code == 201, retry.text
    assert retry.json()["order_id"] == order_id and retry.json()["status"] == "approved"
    assert retry.json()["payment_id"] != answer["payment_id"]
    paid = c.wait_order(order_id, "paid")
    assert paid["last_payment"]["id"] == retry.json()["payment_id"]
    assert len(c.sim_payments_for(order_id)) == 2

    # a paid order takes no more payments
    again = c.pay(c.body(c.card_token("APRO"), order_id=order_id))
    assert again.status_code == 409 and again.json()["error"]["code"] == "order_not_payable"


def test_pending_contingency_is_paid_when_mercado_pago_approves_later(live):
    c = StackClient(live)
    r = c.pay(holder="CONT")
    assert r.status_code == 201 and r.json()["status"] == "in_process"
    assert c.order(r.json()["order_id"])["status"] == "pending"
    c.wait_order(r.json()["order_id"], "paid")


def test_same_idempotency_key_and_body_replays_the_first_answer(live):
    c = StackClient(live)
    body = c.body(c.card_token())
    key = {"Idempotency-Key": "checkout-attempt-1"}
    first = c.pay(body, key)
    second = c.pay(body, key)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert len(c.sim_payments_for(first.json()["order_id"])) == 1
    assert len(c.docs("orders")) == 1

    other = c.body(c.card_token())
    conflict = c.pay(other, key)
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_key_reused"
    assert len(c.docs("orders")) == 1
