"""ipn_webhook in-process against the real Cloud Tasks emulator: notifications as Mercado
Pago really sends them (shapes from its Webhooks guide), task names from signed values only,
legacy IPN, and malformed input that must never be a 500."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local.cloudtasks_emulator import start_emulator
from shared.adapters.mercadopago import webhooks

SECRET = "dev-webhook-secret"


@pytest.fixture
def tasks() -> Iterator[Any]:
    handle = start_emulator(queues=["fulfill:max_attempts=1"], time_scale=0.01)
    yield handle
    handle.stop()


@pytest.fixture
def ipn(function_client, tasks):
    return function_client("ipn_webhook", FULFILL_URL="http://127.0.0.1:9/",
                           MP_WEBHOOK_SECRET=SECRET, SIGNATURE_TOLERANCE_SECONDS="600",
                           CLOUD_TASKS_EMULATOR_HOST=tasks.grpc_target)


def queued(tasks: Any) -> list[dict[str, Any]]:
    view = tasks.store.snapshot()
    return [json.loads(t["body"]) for t in view["tasks"] + view["history"]]


def headers_for(data_id: str | None, request_id: str | None = None,
                ts: str | None = None) -> dict[str, str]:
    request_id = request_id or str(uuid.uuid4())
    ts = ts or str(int(time.time()))
    v1 = webhooks.sign(SECRET, data_id.lower() if data_id else None, request_id, ts)
    return {"x-signature": f"ts={ts},v1={v1}", "x-request-id": request_id,
            "Content-Type": "application/json"}


def payment_body(payment_id: Any, notification_id: int = 1, action: str = "payment.updated",
                 type_: str = "payment") -> str:
    return json.dumps({"id": notification_id, "live_mode": True, "type": type_,
                       "date_created": "2026-12-01T10:00:00.000-04:00", "user_id": 44444,
                       "api_version": "v1", "action": action, "data": {"id": payment_id}})


def merchant_order_body(mo_id: str, action: str, status: str, version: int) -> str:
    # Mercado Pago's topic_merchant_order_wh: body id IS the merchant order; data has no id.
    return json.dumps({"action": action, "application_id": "6626499642890434",
                       "data": {"currency_id": "", "marketplace": "NONE", "status": status},
                       "date_created": "2026-12-01T10:00:00.000-04:00", "id": mo_id,
                       "live_mode": True, "status": status, "type": "topic_merchant_order_wh",
                       "user_id": 2307740945, "version": version})


def chargeback_raw(cb_id: str, payment_id: str) -> str:
    # The Webhooks guide's chargeback example: data.id and data.payment_id are JSON numbers.
    return ('{"actions":["changed_case_status"],"api_version":"v1","application_id":'
            '9007201037432480,"data":{"checkout":"PRO","date_updated":"2026-12-01T10:00:00Z",'
            f'"id":{cb_id},"payment_id":{payment_id},"product_id":"BC32A57TRPP001U8NHHG",'
            '"site_id":"MLA","transaction_intent_id":""},"date_created":'
            '"2026-12-01T10:00:01-04:00","id":114544942708,"live_mode":true,'
            '"type":"topic_chargebacks_wh","user_id":425424311,"version":1720427447}')


def fraud_alert_body(payment_id: int, merchant_order: int) -> str:
    # The guide's stop_delivery_op_wh example: no data.id; the payment is in data.payment_id.
    return json.dumps({"action": "Created", "api_version": "v1",
                       "data": {"description": "desc", "merchant_order": merchant_order,
                                "payment_id": payment_id, "site_id": "MLB"},
                       "date_created": "2026-12-01T10:00:00-04:00", "id": str(payment_id),
                       "live_mode": True, "type": "stop_delivery_op_wh", "user_id": 224403329,
                       "version": 1})


def test_an_altered_replay_of_a_signed_request_is_a_duplicate(ipn, tasks):
    h = headers_for("5001")
    first = ipn.post("/?data.id=5001&type=payment", data=payment_body("5001", 1), headers=h)
    assert first.status_code == 200 and first.get_json() == {"status": "queued"}
    for n in range(2, 12):  # body id, action and type are not signed
        r = ipn.post("/?data.id=5001&type=payment", headers=h,
                     data=payment_body("5001", n, action=f"payment.x{n}"))
        assert r.get_json() == {"status": "duplicate"}, r.get_data(as_text=True)
    assert ipn.post("/?data.id=5001&type=topic_merchant_order_wh", headers=h,
                    data=payment_body("5001", 99)).get_json() == {"status": "duplicate"}
    assert len(queued(tasks)) == 1


def test_two_genuine_notifications_are_two_tasks(ipn, tasks):
    for rid in ("req-a", "req-b"):
        r = ipn.post("/?data.id=5002&type=payment", data=payment_body("5002", 7),
                     headers=headers_for("5002", rid))
        assert r.get_json() == {"status": "queued"}
    assert [t["resource_id"] for t in queued(tasks)] == ["5002", "5002"]


def test_successive_merchant_order_updates_are_each_processed(ipn, tasks):
    mo = "29622218613"
    for action, status, version in [("create", "opened", 0), ("update", "opened", 1),
                                    ("update", "closed", 2)]:
        r = ipn.post(f"/?data.id={mo}&type=topic_merchant_order_wh", headers=headers_for(mo),
                     data=merchant_order_body(mo, action, status, version))
        assert r.get_json() == {"status": "queued"}, r.get_data(as_text=True)
    found = queued(tasks)
    assert len(found) == 3
    assert {(t["topic"], t["resource_id"]) for t in found} == {("merchant_order", mo)}
    assert sorted(t["action"] for t in found) == ["create", "update", "update"]


def test_chargeback_in_its_real_shape_is_queued_under_the_project_topic(ipn, tasks):
    cb, payment = "217000061307271000", "81034165129"
    r = ipn.post(f"/?data.id={cb}&type=topic_chargebacks_wh", data=chargeback_raw(cb, payment),
                 headers=headers_for(cb))
    assert r.get_json() == {"status": "queued"}, r.get_data(as_text=True)
    [task] = queued(tasks)
    assert task["topic"] == "chargebacks" and task["resource_id"] == cb
    assert task["action"] == "changed_case_status"


def test_fraud_alert_without_data_id_is_signed_over_request_id_and_ts(ipn, tasks):
    h = headers_for(None)
    body = fraud_alert_body(58980959081, 249940988000)
    r = ipn.post("/?type=stop_delivery_op_wh", data=body, headers=h)
    assert r.get_json() == {"status": "queued"}, r.get_data(as_text=True)
    # Named from x-request-id and ts: the same signed request with another payment id is a
    # duplicate, not a second alert.
    again = ipn.post("/?type=stop_delivery_op_wh", headers=h,
                     data=fraud_alert_body(11111111111, 249940988000))
    assert again.get_json() == {"status": "duplicate"}
    [task] = queued(tasks)
    assert task["topic"] == "fraud_alert" and task["resource_id"] == "58980959081"
    assert task["resource_signed"] is False


def test_fraud_alert_with_a_signed_data_id_takes_the_payment_from_the_query(ipn, tasks):
    r = ipn.post("/?data.id=58980959081&type=stop_delivery_op_wh",
                 data=fraud_alert_body(58980959081, 249940988000),
                 headers=headers_for("58980959081"))
    assert r.get_json() == {"status": "queued"}
    [task] = queued(tasks)
    assert task["resource_id"] == "58980959081" and "resource_signed" not in task


def test_legacy_ipn_is_acknowledged_and_queues_nothing(ipn, tasks):
    for topic in ("payment", "merchant_order", "chargebacks"):
        r = ipn.post(f"/?topic={topic}&id=123456789",
                     data=json.dumps({"resource": "123456789", "topic": topic}),
                     headers={"Content-Type": "application/json",
                              "x-signature": "ts=1,v1=" + "0" * 64})
        assert r.status_code == 200 and r.get_json() == {"status": "ignored"}
    assert queued(tasks) == []


@pytest.mark.parametrize("header", [
    "ts=\u00b2,v1=" + "0" * 64,
    "ts=" + "9" * 5000 + ",v1=" + "0" * 64,
    "ts=1704908010,v1=" + "g" * 64,
    "ts=1704908010,v1=\u00e9\u00e9",
    "ts=1,ts=2,v1=" + "0" * 64,
    "ts=1704908010,v1=" + "0" * 64 + ",v1=" + "0" * 64,
    ",,,",
    "ts=,v1=",
    "=",
])
def test_malformed_signature_headers_are_401_never_500(ipn, tasks, header):
    r = ipn.post("/?data.id=123&type=payment", data=payment_body("123"),
                 headers={"x-signature": header,
                          "x-request-id": "r", "Content-Type": "application/json"})
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "invalid_signature"
    assert queued(tasks) == []


@pytest.mark.parametrize("query", [
    "data.id=%C2%B2&type=payment",             # non-ASCII
    "data.id=" + "1" * 65 + "&type=payment",   # too long
    "data.id=&type=payment",                   # empty
    "data.id=12%0A&type=payment",              # trailing newline
    "type=payment",                            # missing where the topic names its resource
    "type=topic_chargebacks_wh",
])
def test_query_data_id_is_checked_before_verification(ipn, tasks, query):
    r = ipn.post(f"/?{query}", data=payment_body("1"), headers=headers_for("1"))
    assert r.status_code == 401, r.get_data(as_text=True)
    assert r.get_json()["error"]["reason"] == "malformed_data_id"
    assert queued(tasks) == []


@pytest.mark.parametrize(("body_id", "status"), [
    ("999", 401), (999, 401), ("123", 200), (123, 200)])
def test_body_data_id_must_match_the_signed_query_id(ipn, tasks, body_id, status):
    r = ipn.post("/?data.id=123&type=payment", data=payment_body(body_id),
                 headers=headers_for("123"))
    assert r.status_code == status, r.get_data(as_text=True)
    if status == 401:
        assert r.get_json()["error"]["reason"] == "data_id_mismatch"


def test_body_data_id_compares_case_insensitively(ipn, tasks):
    r = ipn.post("/?data.id=ORD01ABC&type=payment", data=payment_body("ord01abc"),
                 headers=headers_for("ORD01ABC"))
    assert r.status_code == 200, r.get_data(as_text=True)


def test_deeply_nested_or_surrogate_bodies_are_400(ipn, tasks):
    deep = "[" * 1000 + "]" * 1000
    r = ipn.post("/?data.id=7&type=payment", data=deep, headers=headers_for("7"))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    lone = payment_body("7").replace("payment.updated", "\\ud800")
    r = ipn.post("/?data.id=7&type=payment", data=lone, headers=headers_for("7"))
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "malformed_json"
    assert queued(tasks) == []


def test_ipn_topic_names_in_the_webhooks_envelope_are_not_wire_names(ipn, tasks):
    r = ipn.post("/?data.id=42&type=subscription_preapproval", data=payment_body("42"),
                 headers=headers_for("42"))
    assert r.get_json() == {"status": "ignored"}
    assert queued(tasks) == []
