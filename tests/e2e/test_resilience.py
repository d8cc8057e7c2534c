"""The nasty paths: duplicate storms, reordering, provider failures, dead letters, auth."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.e2e_client import StackClient

pytestmark = pytest.mark.e2e


def _create_quietly(c: StackClient, holder: str = "APRO") -> dict:
    """A payment whose own notifications are held back by the simulator."""
    c.sim("POST", "/_sim/notifications", json={"mode": "hold"})
    r = c.pay(holder=holder)
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_twenty_copies_of_one_notification_fulfil_once(live, receiver):
    c = StackClient(live)
    answer = _create_quietly(c)
    ts = int(time.time())  # one signed request (same x-request-id and ts), delivered 20 times
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: c.notify(answer["payment_id"], notification_id=4242,
                                                   action="payment.created",
                                                   request_id="copy-4242", ts=ts), range(20)))
    statuses = sorted(r.json()["status"] for r in results)
    assert statuses.count("queued") == 1 and statuses.count("duplicate") == 19
    c.wait_order(answer["order_id"], "paid")
    c.wait_quiet()
    assert len(receiver.snapshot()) == 1
    assert len(c.hook_calls(answer["order_id"])) == 1


def test_twenty_different_notifications_for_one_payment_fulfil_once(live, receiver):
    c = StackClient(live)
    answer = _create_quietly(c)
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda i: c.notify(answer["payment_id"], notification_id=9000 + i),
                                range(20)))
    assert all(r.json()["status"] == "queued" for r in results)
    c.wait_order(answer["order_id"], "paid")
    c.wait_for(lambda: len(c.docs("processed_notifications")) >= 20, what="all 20 processed")
    events = [json.loads(e.body) for e in receiver.snapshot()]
    assert [e["type"] for e in events] == ["order.paid"]
    assert len(c.hook_calls(answer["order_id"])) == 1
    assert len(c.docs("fulfilments")) == 1


def test_out_of_order_and_stale_deliveries_never_regress(live, receiver):
    c = StackClient(live)
    answer = _create_quietly(c, holder="CONT")   # in_process, approved later by the simulator
    c.wait_for(lambda: c.sim("GET", "/_sim/payments")["results"][0]["status"] == "approved",
               what="simulator approval")
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/status",
          json={"status": "refunded", "status_detail": "refunded"})
    c.sim("POST", "/_sim/notifications/flush", json={"order": "reverse"})
    c.wait_order(answer["order_id"], "refunded")
    # a late "approved" for the same payment is re-fetched and found refunded: no regression
    c.notify(answer["payment_id"], notification_id=123456789, action="payment.updated")
    c.wait_quiet()
    order = c.order(answer["order_id"])
    assert order["status"] == "refunded"
    # never fulfilled: the first state fulfil saw was already refunded
    assert len(c.hook_calls(answer["order_id"])) == 0


def test_approved_then_refunded_in_order_fulfils_once_and_ends_refunded(live, receiver):
    c = StackClient(live)
    r = c.pay()
    order_id, payment_id = r.json()["order_id"], r.json()["payment_id"]
    c.wait_order(order_id, "paid")
    c.sim("POST", f"/_sim/payments/{payment_id}/status", json={"status": "refunded"})
    c.wait_order(order_id, "refunded")
    stored = c.db().collection("orders").document(order_id).get().to_dict()
    assert [h["status"] for h in stored["history"]] == ["pending", "paid", "refunded"]
    assert len(c.hook_calls(order_id)) == 1


def test_mercado_pago_5xx_during_fulfil_is_retried_until_applied(live):
    c = StackClient(live)
    answer = _create_quietly(c)
    c.fault(status=500, path_prefix=f"/v1/payments/{answer['payment_id']}", method="GET", count=6)
    c.notify(answer["payment_id"], notification_id=1)
    c.wait_order(answer["order_id"], "paid", timeout=30)


def test_mercado_pago_timeout_during_fulfil_is_retried(live):
    c = StackClient(live)
    answer = _create_quietly(c)
    c.fault(timeout_s=3, path_prefix=f"/v1/payments/{answer['payment_id']}", method="GET", count=1)
    c.notify(answer["payment_id"], notification_id=2)
    c.wait_order(answer["order_id"], "paid", timeout=30)


def test_unknown_payment_is_retried_then_dead_lettered(live):
    c = StackClient(live)
    r = c.notify("424242424242", notification_id=3)
    assert r.json()["status"] == "queued"
    letter = c.wait_for(lambda: c.docs("dead_letters"), timeout=30, what="dead letter")[0]
    assert letter["reason"] == "unknown_payment" and letter["attempts"] == 3
    assert letter["task"]["resource_id"] == "424242424242"


def test_amount_mismatch_is_recorded_not_fulfilled(live, receiver):
    c = StackClient(live)
    answer = _create_quietly(c)
    # Tamper with the order's price behind the function's back: the paid amount no longer matches.
    c.db().collection("orders").document(answer["order_id"]).update({"amount": "999.00"})
    c.notify(answer["payment_id"], notification_id=5)
    anomaly = c.wait_for(lambda: c.docs("anomalies"), what="anomaly")[0]
    assert anomaly["kind"] == "amount_mismatch" and anomaly["payment_amount"] == "200.00"
    assert c.order(answer["order_id"])["status"] == "pending"
    assert receiver.snapshot() == [] and len(c.hook_calls(answer["order_id"])) == 0
    assert "amount_mismatch" in live.log_path("fulfill").read_text()


def test_fulfill_rejects_callers_without_a_valid_token(live):
    c = StackClient(live)
    body = json.dumps({"topic": "payment", "resource_id": "1", "notification_id": "x"})
    r = c.http.post(c.urls.fulfill + "/", data=body, headers={"Content-Type": "application/json"},
                    timeout=5)
    assert r.status_code == 401
    r = c.http.post(c.urls.fulfill + "/", data=body, timeout=5,
                    headers={"Authorization": "Bearer not.a.jwt", "Content-Type": "application/json"})
    assert r.status_code == 401
    # the front end refuses before the function sees anything; the function itself: 405
    assert c.http.get(c.urls.fulfill + "/", timeout=5).status_code == 401
    assert c.http.get(c.urls.fulfill_internal + "/", timeout=5).status_code == 405


def test_task_with_wrong_oidc_audience_or_account_is_refused(live):
    """A real task from the emulator, signed for the wrong audience / account: 401 / 403."""
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    c = StackClient(live)
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(
        channel=grpc.insecure_channel(c.urls.tasks_grpc_host)))
    parent = f"projects/{live.project}/locations/us-central1/queues/fulfill"
    body = json.dumps({"topic": "payment", "resource_id": "1", "notification_id": "y"}).encode()
    for name, account, audience in [
        ("wrong-aud", "tasks-invoker@demo-mp-local.iam.gserviceaccount.com", "https://other"),
        ("wrong-acct", "intruder@demo-mp-local.iam.gserviceaccount.com", c.urls.fulfill),
    ]:
        client.create_task(parent=parent, task={
            "name": f"{parent}/tasks/{name}", "http_request": {
                "http_method": tasks_v2.HttpMethod.POST, "url": c.urls.fulfill + "/",
                "body": body, "oidc_token": {"service_account_email": account,
                                             "audience": audience}}})

    def codes(name: str) -> list[int]:
        view = c.tasks_view()
        found = []
        for t in view.get("history", []) + view.get("tasks", []):
            if str(t.get("name", "")).endswith(name):
                found += [a["status"] for a in t.get("attempts", []) if a.get("status")]
        return found

    c.wait_for(lambda: codes("wrong-aud") and codes("wrong-acct"), what="attempts")
    assert set(codes("wrong-aud")) == {401}
    assert set(codes("wrong-acct")) == {403}
