"""Refunds, cancellations, chargebacks: state follows the money, each event once."""

from __future__ import annotations

import json

import pytest

from tests.support.e2e_client import StackClient, mpctl
from tests.support.receiver import Receiver

pytestmark = pytest.mark.e2e


def _paid_order(c: StackClient, receiver: Receiver | None = None) -> dict:
    """A paid order; with ``receiver``, once its ``order.paid`` has also reached the shop.

    Each event is its own Cloud Task, retried on its own: two events of one order can reach
    the shop in either order. A test that asserts the order in which they arrived waits for
    one before causing the next."""
    r = c.pay()
    assert r.status_code == 201
    answer = dict(r.json())
    c.wait_order(answer["order_id"], "paid")
    if receiver is not None:
        _wait_event(c, receiver, "order.paid")
    return answer


def _wait_event(c: StackClient, receiver: Receiver, event_type: str) -> None:
    c.wait_for(lambda: event_type in [e["type"] for e in receiver.payloads()],
               what=f"{event_type} delivered")


def test_full_refund_through_mpctl(live, receiver):
    c = StackClient(live)
    answer = _paid_order(c, receiver)
    code, out, err = mpctl(live, "refund", answer["order_id"])
    assert code == 0, err
    assert out["amount"] == "200.00" and out["order_status"] == "refunded"
    order = c.wait_order(answer["order_id"], "refunded")
    assert order["status"] == "refunded"
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.paid", "order.refunded"],
               what="paid and refunded events")
    # running it again (within 10 minutes) refunds nothing more: it shows the earlier refund
    code, again, err = mpctl(live, "refund", answer["order_id"])
    assert code == 0, err
    assert again["repeated"] is True and again["refund_id"] == out["refund_id"]
    [sim_payment] = c.sim_payments_for(answer["order_id"])
    assert sim_payment["status"] == "refunded" and len(sim_payment["refunds"]) == 1


def test_partial_refunds_then_the_rest(live, receiver):
    c = StackClient(live)
    answer = _paid_order(c)
    assert mpctl(live, "refund", answer["order_id"], "--amount", "50")[0] == 0
    c.wait_order(answer["order_id"], "partially_refunded")
    assert mpctl(live, "refund", answer["order_id"], "--amount", "30.5")[0] == 0
    code, _, err = mpctl(live, "refund", answer["order_id"], "--amount", "500")
    assert code == 1 and "invalid_amount" in err
    assert mpctl(live, "refund", answer["order_id"])[0] == 0
    c.wait_order(answer["order_id"], "refunded")
    c.wait_quiet()
    kinds = [(e["type"], e.get("refunded_amount")) for e in receiver.payloads()]
    assert kinds == [("order.paid", None), ("order.partially_refunded", "50.00"),
                     ("order.partially_refunded", "80.50"), ("order.refunded", "200.00")]
    stored = c.db().collection("orders").document(answer["order_id"]).get().to_dict()
    assert [h["status"] for h in stored["history"]] == [
        "pending", "paid", "partially_refunded", "partially_refunded", "refunded"]


def test_refund_of_an_unpaid_order_is_refused(live):
    c = StackClient(live)
    r = c.pay(holder="OTHE")
    code, _, err = mpctl(live, "refund", r.json()["order_id"])
    assert code == 1 and "not_refundable" in err
    code, _, err = mpctl(live, "refund", "no-such-order-123")
    assert code == 1 and "order_not_found" in err


def test_cancel_a_pending_pix_order(live, receiver):
    c = StackClient(live)
    r = c.pay({"items": [{"product_id": "demo-product", "quantity": 1}],
               "payer": {"email": "buyer@example.com"}, "payment": {"method": "pix"}})
    order_id = r.json()["order_id"]
    code, out, err = mpctl(live, "cancel", order_id)
    assert code == 0, err
    c.wait_order(order_id, "cancelled")
    [sim_payment] = c.sim_payments_for(order_id)
    assert sim_payment["status"] == "cancelled"
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.cancelled"],
               what="order.cancelled")
    code, _, err = mpctl(live, "cancel", order_id)
    assert code == 1 and "not_cancellable" in err


def test_chargeback_after_approval(live, receiver):
    c = StackClient(live)
    answer = _paid_order(c, receiver)
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/chargeback", json={})
    c.wait_order(answer["order_id"], "charged_back")
    c.wait_for(lambda: [e["type"] for e in receiver.payloads()] == ["order.paid",
                                                                  "order.charged_back"],
               what="charged_back event")
    # the chargebacks topic went through the fulfil queue too, and was applied there
    c.wait_quiet()
    chargeback_tasks = [t for t in c.tasks_view()["history"]
                        if t["queue"] == "fulfill" and t["body"]
                        and json.loads(t["body"]).get("topic") == "chargebacks"]
    assert chargeback_tasks and all(t["outcome"] == "succeeded" for t in chargeback_tasks), \
        chargeback_tasks


def test_each_event_once_under_duplicate_storms(live, receiver):
    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "deliver", "duplicates": 5})
    answer = _paid_order(c, receiver)
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/status",
          json={"status": "approved", "status_detail": "partially_refunded"})
    for _ in range(3):
        c.sim("POST", "/_sim/webhooks/resend", json={"payment_id": answer["payment_id"]})
    _wait_event(c, receiver, "order.partially_refunded")
    code, _, err = mpctl(live, "refund", answer["order_id"])
    assert code == 0, err
    c.wait_order(answer["order_id"], "refunded")
    c.wait_quiet()
    types = [e["type"] for e in receiver.payloads()]
    assert sorted(types) == sorted(set(types))
    assert types[0] == "order.paid" and types[-1] == "order.refunded"


def test_chargeback_notification_alone_moves_the_order(live):
    c = StackClient(live)
    answer = _paid_order(c)
    c.sim("POST", "/_sim/notifications", json={"mode": "drop"})
    created = c.sim("POST", f"/_sim/payments/{answer['payment_id']}/chargeback", json={})
    chargeback_id = str(created["chargeback"]["id"])
    assert c.order(answer["order_id"])["status"] == "paid"
    r = c.notify(chargeback_id, topic="topic_chargebacks_wh", action="changed_case_status",
                 notification_id=616)
    assert r.json() == {"status": "queued"}
    c.wait_order(answer["order_id"], "charged_back")


def test_shuffled_duplicated_deliveries_of_every_state_never_regress(live, receiver):
    c = StackClient(live)
    c.sim("POST", "/_sim/notifications", json={"mode": "hold", "duplicates": 3})
    answer = c.pay().json()
    pid = answer["payment_id"]
    c.sim("POST", f"/_sim/payments/{pid}/status",
          json={"status": "approved", "status_detail": "partially_refunded"})
    c.sim("POST", f"/_sim/payments/{pid}/status", json={"status": "refunded"})
    c.sim("POST", "/_sim/notifications/flush", json={"order": "shuffle"})
    c.wait_order(answer["order_id"], "refunded")
    c.wait_quiet()
    order = c.order(answer["order_id"])
    assert order["status"] == "refunded"
    types = [e["type"] for e in receiver.payloads()]
    assert types.count("order.refunded") == 1 and len(types) == len(set(types))


def test_mediation_is_recorded_without_moving_the_order(live, receiver):
    c = StackClient(live)
    answer = _paid_order(c)
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/status", json={"status": "in_mediation"})
    c.wait_for(lambda: (c.db().collection("orders").document(answer["order_id"]).get()
                        .to_dict() or {}).get("dispute"), what="dispute recorded")
    stored = c.db().collection("orders").document(answer["order_id"]).get().to_dict()
    assert stored["status"] == "paid" and stored["dispute"]["status"] == "in_mediation"
    # the chargeback that may follow still moves it forward
    c.sim("POST", f"/_sim/payments/{answer['payment_id']}/chargeback", json={})
    c.wait_order(answer["order_id"], "charged_back")


def test_chargeback_status_detail_changes_are_announced_and_never_regress(live, receiver):
    c = StackClient(live)
    answer = _paid_order(c)
    created = c.sim("POST", f"/_sim/payments/{answer['payment_id']}/chargeback", json={})
    order = c.wait_order(answer["order_id"], "charged_back")
    c.wait_for(lambda: c.order(answer["order_id"])["chargeback"] == {"status_detail": "in_process"},
               what="chargeback detail on the order")
    c.sim("POST", f"/_sim/chargebacks/{created['chargeback']['id']}/case",
          json={"status_detail": "reimbursed"})
    c.wait_for(lambda: c.order(answer["order_id"])["chargeback"] == {"status_detail": "reimbursed"},
               what="reimbursed on the order")
    c.wait_for(lambda: [e for e in receiver.payloads() if e["type"] == "order.chargeback_updated"],
               what="order.chargeback_updated")
    order = c.order(answer["order_id"])
    assert order["status"] == "charged_back"
    events = receiver.payloads()
    [charged] = [e for e in events if e["type"] == "order.charged_back"]
    assert charged["status_detail"] == "in_process"
    updates = [e for e in events if e["type"] == "order.chargeback_updated"]
    assert [e["status_detail"] for e in updates] == ["reimbursed"]
