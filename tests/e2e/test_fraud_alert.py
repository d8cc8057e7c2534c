"""Fraud alerts (stop_delivery_op_wh) through the running stack: recorded, announced once,
shop hooks withheld until an operator clears a false alert."""

from __future__ import annotations

import json

import pytest

from tests.support.e2e_client import StackClient, mpctl

pytestmark = pytest.mark.e2e


def _alert_logged(live, order_id: str) -> bool:
    whole = live.log_path("fulfill").read_text().split("\n")[:-1]
    for line in whole:
        if line.startswith("{"):
            rec = json.loads(line)
            if rec.get("event") == "fraud_alert" and rec.get("order_id") == order_id:
                return rec["severity"] == "ALERT"
    return False


def test_fraud_alert_before_fulfilment_withholds_hooks_until_cleared(live, receiver):
    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "hold"})
    answer = c.pay().json()
    order_id, payment_id = answer["order_id"], answer["payment_id"]
    # the alert arrives first (the simulator sends it as Mercado Pago does: no data.id)
    c.sim("POST", "/_sim/notifications", json={"mode": "deliver"})
    c.sim("POST", f"/_sim/payments/{payment_id}/fraud_alert", json={})
    c.wait_for(lambda: c.order(order_id)["fraud_alert"], what="fraud alert on the order")
    assert c.order(order_id)["fraud_alert"]["received_at"]
    c.wait_for(lambda: _alert_logged(live, order_id), what="ALERT log line")
    c.sim("POST", "/_sim/notifications/flush", json={})
    c.wait_order(order_id, "paid")
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.fraud_alert",
                                                                  "order.paid"],
               what="fraud alert and paid events")
    c.wait_quiet()  # every task done: a hook run would have happened
    assert c.hook_calls(order_id) == []  # withheld while the alert stands
    code, out, err = mpctl(live, "order", "clear-fraud-alert", order_id)
    assert code == 0, err
    assert out["cleared"] and out["fulfilment_pending"] and out["resume_task"]
    c.wait_for(lambda: c.hook_calls(order_id), what="the withheld hook")
    assert c.order(order_id)["fraud_alert"] is None
    c.wait_quiet()
    assert len(c.hook_calls(order_id)) == 1
    assert [e["type"] for e in receiver.payloads()].count("order.fraud_alert") == 1
    code, _, err = mpctl(live, "order", "clear-fraud-alert", order_id)
    assert code == 1 and "no_fraud_alert" in err


def test_fraud_alert_for_a_payment_that_is_not_ours_records_nothing(live, receiver):
    c = StackClient(live)
    r = c.http.post(f"{c.urls.simulator}/v1/payments", timeout=5, headers={
        "Authorization": "Bearer TEST-local-access-token", "X-Idempotency-Key": "fa-foreign-1"},
        json={"transaction_amount": 10, "token": c.card_token(), "payment_method_id": "master",
              "installments": 1, "payer": {"email": "buyer@example.com"},
              "external_reference": "another-channel-42",
              "notification_url": live.function_env.get("NOTIFICATION_URL", "")})
    assert r.status_code == 201, r.text
    c.sim("POST", f"/_sim/payments/{r.json()['id']}/fraud_alert", json={})
    c.wait_for(lambda: any('"fraud_alert"' in (t.get("body") or "")
                           for t in c.tasks_view().get("history", [])),
               what="the fraud alert task ran")
    assert [e["type"] for e in receiver.payloads() if e["type"] == "order.fraud_alert"] == []
    assert c.docs("orders") == []
