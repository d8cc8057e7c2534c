"""No notification lost: reconcile recovers what was never delivered; dead letters replay."""

from __future__ import annotations

import json

import pytest

from tests.support.e2e_client import StackClient, mpctl

pytestmark = pytest.mark.e2e


def test_dropped_notification_is_recovered_by_reconcile_once(live, receiver):
    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "drop"})
    r = c.pay()
    order_id = r.json()["order_id"]
    c.wait_quiet()
    assert c.order(order_id)["status"] == "pending"  # nothing arrived
    code, report, err = mpctl(live, "reconcile", "--since", "10m")
    assert code == 0, err
    assert report["enqueued"] == 1 and report["payments_seen"] >= 1
    c.wait_order(order_id, "paid")
    code, again, err = mpctl(live, "reconcile", "--since", "10m")
    assert code == 0 and again["enqueued"] == 0  # in sync now: nothing to send
    c.wait_quiet()
    assert [json.loads(e.body)["type"] for e in receiver.snapshot()] == ["order.paid"]


def test_reconcile_function_called_like_cloud_scheduler(live):
    """The reconcile function itself, invoked with an OIDC token as the scheduler would."""
    import grpc
    from google.cloud import tasks_v2
    from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

    from local.stack import SCHEDULER_SERVICE_ACCOUNT

    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "drop"})
    order_id = c.pay().json()["order_id"]
    client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(
        channel=grpc.insecure_channel(c.urls.tasks_grpc_host)))
    parent = f"projects/{live.project}/locations/us-central1/queues/fulfill"
    client.create_task(parent=parent, task={"http_request": {
        "http_method": tasks_v2.HttpMethod.POST, "url": live.endpoints.reconcile + "/",
        "body": json.dumps({"since_minutes": 10}).encode(),
        "headers": {"Content-Type": "application/json"},
        "oidc_token": {"service_account_email": SCHEDULER_SERVICE_ACCOUNT,
                       "audience": live.endpoints.reconcile}}})
    c.wait_order(order_id, "paid")
    # without the scheduler's token, reconcile refuses
    r = c.http.post(live.endpoints.reconcile + "/", json={}, timeout=10)
    assert r.status_code == 401


def test_pending_order_past_threshold_is_checked_by_reconcile(live):
    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "drop"})
    answer = c.pay().json()
    order_id = answer["order_id"]
    # make the order old enough for the pending-order sweep
    from datetime import UTC, datetime, timedelta

    c.db().collection("orders").document(order_id).update(
        {"created_at": datetime.now(UTC) - timedelta(hours=2)})
    # Keep the payment out of the 1-second payments window, so that only the pending-order
    # sweep can find it (else the first sweep may have it paid before the second looks).
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/backdate", json={"days": 1})
    code, report, err = mpctl(live, "reconcile", "--since", "1s")
    assert code == 0, err
    assert report["orders_checked"] >= 1 and report["enqueued"] == 1, report
    c.wait_order(order_id, "paid")


def test_dead_letter_listed_and_replayed(live):
    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "hold"})
    answer = c.pay().json()
    # Mercado Pago "does not know" the payment while fulfill tries: it becomes a dead letter
    c.fault(status=404, path_prefix=f"/v1/payments/{answer['payment_id']}", method="GET")
    c.notify(answer["payment_id"], notification_id=31)
    c.wait_for(lambda: c.docs("dead_letters"), timeout=30, what="dead letter")
    c.clear_faults()
    code, letters, err = mpctl(live, "dead-letters", "list")
    assert code == 0, err
    assert [d["reason"] for d in letters] == ["unknown_payment"]
    code, out, err = mpctl(live, "dead-letters", "replay", letters[0]["id"])
    assert code == 0, err
    c.wait_order(answer["order_id"], "paid")
    code, letters, _ = mpctl(live, "dead-letters", "list")
    assert letters == []
    code, _, err = mpctl(live, "dead-letters", "replay", "no-such-letter")
    assert code == 1 and "dead_letter_not_found" in err


def test_mpctl_lookups_sign_and_config_check(live):
    c = StackClient(live)
    answer = c.pay().json()
    c.wait_order(answer["order_id"], "paid")
    code, order, _ = mpctl(live, "order", "show", answer["order_id"])
    assert code == 0 and order["status"] == "paid"
    code, payment, _ = mpctl(live, "payment", "show", answer["payment_id"])
    assert code == 0 and payment["in_sync"] and payment["mercado_pago"]["status"] == "approved"
    code, report, _ = mpctl(live, "config", "check")
    assert code == 0 and report["secrets"]["MP_ACCESS_TOKEN"].startswith("present")
    assert "TEST-local-access-token" not in json.dumps(report)
    code, curl, _ = mpctl(live, "webhook", "sign", answer["payment_id"])
    assert code == 0 and "x-signature: ts=" in curl
    import shlex
    import subprocess

    sent = subprocess.run(shlex.split(curl), capture_output=True, text=True, timeout=10,
                          check=False)
    assert json.loads(sent.stdout)["status"] in ("queued", "duplicate")
    assert mpctl(live, "order", "show", "nope-nope-nope")[0] == 1


def test_bounded_runs_recover_every_payment_of_a_burst_whose_notifications_were_dropped(live):
    """A few hundred payments whose notifications never arrive, more than one bounded run
    covers: `mpctl reconcile --since 10m` continues where the previous run stopped, and
    `--until-done` repeats runs until every one of those orders is paid (completion, no rate)."""
    from concurrent.futures import ThreadPoolExecutor

    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "drop"})
    count, per_run = 240, 70

    def one(_: int) -> str:
        r = c.pay()
        assert r.status_code == 201, r.text
        return str(r.json()["order_id"])

    with ThreadPoolExecutor(8) as pool:
        order_ids = list(pool.map(one, range(count)))
    assert all(c.order(o)["status"] == "pending" for o in order_ids[:5])  # nothing arrived
    cap = {"RECONCILE_MAX_ITEMS": str(per_run)}
    # One bounded run: it stops short of the window and says what is left.
    code, first, err = mpctl(live, "reconcile", "--since", "10m", "--new-window", env=cap)
    assert code == 0, err
    assert first["truncated"] and not first["window_done"], first
    assert first["payments_seen"] == per_run and first["payments_remaining"] > 0
    assert "run again to continue" in err
    # A second plain run continues the window instead of re-reading the same payments.
    code, second, err = mpctl(live, "reconcile", "--since", "10m", env=cap)
    assert code == 0, err
    assert second["continued"] and second["payments_seen"] == per_run, second
    assert not set(first["corrected"]) & set(second["corrected"])
    # --until-done covers the rest.
    code, last, err = mpctl(live, "reconcile", "--since", "10m", "--until-done", env=cap,
                            timeout=180)
    assert code == 0, err
    assert last["window_done"] and last["runs"] >= 2, last
    for order_id in order_ids:
        c.wait_order(order_id, "paid", timeout=60)
