"""The functions in-process (functions-framework's test client) against real local services:
secrets from every source, fail-closed paths, Firestore or Cloud Tasks down."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from local.cloudtasks_emulator import start_emulator
from local.secretmanager_fake import start_fake
from local.seed import seed
from shared.adapters.mercadopago import webhooks
from tests.support.functions import closed_port

SECRET_NAME = "projects/demo-mp-local/secrets/mp-webhook-secret"


def _signed(data_id: str, secret: str) -> tuple[dict[str, str], str]:
    rid, ts = str(uuid.uuid4()), str(int(time.time()))
    v1 = webhooks.sign(secret, data_id, rid, ts)
    body = json.dumps({"id": int(time.time() * 1e6), "type": "payment",
                       "action": "payment.updated", "data": {"id": data_id}})
    return {"x-signature": f"ts={ts},v1={v1}", "x-request-id": rid,
            "Content-Type": "application/json"}, body


@pytest.fixture
def tasks_emulator() -> Iterator[object]:
    handle = start_emulator(queues=["fulfill:max_attempts=1"], time_scale=0.01)
    yield handle
    handle.stop()


# -- ipn_webhook: secrets -------------------------------------------------------------------
def test_no_webhook_secret_configured_rejects_everything(function_client):
    client = function_client("ipn_webhook", FULFILL_URL="http://127.0.0.1:9/",
                             CLOUD_TASKS_EMULATOR_HOST=f"127.0.0.1:{closed_port()}")
    headers, body = _signed("123", "dev-webhook-secret")
    r = client.post("/?data.id=123&type=payment", data=body, headers=headers)
    assert r.status_code == 401 and r.get_json()["error"]["reason"] == "no_secret"


def test_unreadable_secret_file_fails_closed(function_client, tmp_path):
    client = function_client("ipn_webhook", FULFILL_URL="http://127.0.0.1:9/",
                             MP_WEBHOOK_SECRET_FILE=str(tmp_path / "missing"))
    headers, body = _signed("123", "dev-webhook-secret")
    assert client.post("/?data.id=123&type=payment", data=body, headers=headers).status_code == 401


def test_secret_from_mounted_file_and_rotation_without_restart(function_client, tmp_path,
                                                              tasks_emulator):
    secret_file = tmp_path / "value"
    secret_file.write_text("first-secret")
    client = function_client("ipn_webhook", FULFILL_URL="http://127.0.0.1:9/",
                             MP_WEBHOOK_SECRET_FILE=str(secret_file), SECRET_CACHE_TTL_SECONDS="0",
                             CLOUD_TASKS_EMULATOR_HOST=tasks_emulator.grpc_target)
    headers, body = _signed("1001", "first-secret")
    assert client.post("/?data.id=1001&type=payment", data=body, headers=headers).status_code == 200
    secret_file.write_text("second-secret")  # what a new Secret Manager version does to the mount
    headers, body = _signed("1002", "first-secret")
    assert client.post("/?data.id=1002&type=payment", data=body, headers=headers).status_code == 401
    headers, body = _signed("1003", "second-secret")
    assert client.post("/?data.id=1003&type=payment", data=body, headers=headers).status_code == 200


def test_secret_from_secret_manager_api_with_previous_secret_during_rotation(function_client,
                                                                            tasks_emulator):
    fake = start_fake(secrets={SECRET_NAME: "sm-secret-v1"})
    try:
        client = function_client(
            "ipn_webhook", FULFILL_URL="http://127.0.0.1:9/",
            MP_WEBHOOK_SECRET_SECRET=f"{SECRET_NAME}/versions/latest",
            MP_WEBHOOK_SECRET_PREVIOUS="sm-secret-v0",
            SECRET_MANAGER_EMULATOR_HOST=fake.target, SECRET_CACHE_TTL_SECONDS="0",
            CLOUD_TASKS_EMULATOR_HOST=tasks_emulator.grpc_target)
        for data_id, secret, status in [("2001", "sm-secret-v1", 200), ("2002", "sm-secret-v0", 200),
                                        ("2003", "sm-secret-v2", 401)]:
            headers, body = _signed(data_id, secret)
            r = client.post(f"/?data.id={data_id}&type=payment", data=body, headers=headers)
            assert r.status_code == status, (secret, r.get_data(as_text=True))
        fake.add_version(SECRET_NAME, "sm-secret-v2")
        headers, body = _signed("2004", "sm-secret-v2")
        assert client.post("/?data.id=2004&type=payment", data=body,
                           headers=headers).status_code == 200
    finally:
        fake.stop()


def test_secret_manager_unreachable_fails_closed(function_client):
    client = function_client("ipn_webhook", FULFILL_URL="http://127.0.0.1:9/",
                             MP_WEBHOOK_SECRET_SECRET=f"{SECRET_NAME}/versions/latest",
                             SECRET_MANAGER_EMULATOR_HOST=f"127.0.0.1:{closed_port()}")
    headers, body = _signed("3001", "dev-webhook-secret")
    assert client.post("/?data.id=3001&type=payment", data=body, headers=headers).status_code == 401


def test_enqueue_failure_is_5xx_so_mercado_pago_retries(function_client):
    client = function_client("ipn_webhook", FULFILL_URL="http://127.0.0.1:9/",
                             MP_WEBHOOK_SECRET="dev-webhook-secret",
                             CLOUD_TASKS_EMULATOR_HOST=f"127.0.0.1:{closed_port()}")
    headers, body = _signed("4001", "dev-webhook-secret")
    r = client.post("/?data.id=4001&type=payment", data=body, headers=headers)
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "enqueue_failed"


# -- create_payment / fulfill: fail closed, storage down ------------------------------------
def _order_body() -> dict:
    return {"items": [{"product_id": "demo-product", "quantity": 1}],
            "payer": {"email": "buyer@example.com"},
            "payment": {"method": "card", "token": "abcdef0123456789", "payment_method_id": "visa"}}


def test_create_payment_without_access_token_refuses_and_writes_nothing(function_client,
                                                                       firestore_project,
                                                                       firestore_emulator):
    seed(firestore_project, firestore_emulator.host)
    client = function_client("create_payment", GOOGLE_CLOUD_PROJECT=firestore_project,
                             NOTIFICATION_URL="http://127.0.0.1:9/")
    r = client.post("/", json=_order_body())
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "not_configured"
    db = firestore_emulator.client(firestore_project)
    assert list(db.collection("orders").stream()) == []


def test_create_payment_with_firestore_down_is_503(function_client):
    client = function_client("create_payment", NOTIFICATION_URL="http://127.0.0.1:9/",
                             MP_ACCESS_TOKEN="TEST-x",
                             FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{closed_port()}")
    r = client.post("/", json=_order_body())
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "storage_unavailable"
    r = client.get("/orders/abcdefghijkl")
    assert r.status_code == 503


def _task(resource_id: str = "1") -> str:
    return json.dumps({"topic": "payment", "resource_id": resource_id,
                       "notification_id": uuid.uuid4().hex})


def test_fulfill_with_firestore_down_asks_cloud_tasks_to_retry(function_client):
    import requests

    from local.mp_simulator.server import start_simulator

    sim = start_simulator(access_token="TEST-x", public_key="TEST-pk")
    try:
        token = requests.post(f"{sim.url}/v1/card_tokens", params={"public_key": "TEST-pk"},
                              json={"card_number": "5031433215406351", "expiration_month": 11,
                                    "expiration_year": 2030, "security_code": "123",
                                    "cardholder": {"name": "APRO"}}, timeout=5).json()["id"]
        payment = requests.post(f"{sim.url}/v1/payments", timeout=5, headers={
            "Authorization": "Bearer TEST-x", "X-Idempotency-Key": uuid.uuid4().hex}, json={
            "transaction_amount": 10, "token": token, "payment_method_id": "master",
            "installments": 1, "payer": {"email": "buyer@example.com"},
            "external_reference": "order-x"}).json()
        client = function_client("fulfill", MP_ACCESS_TOKEN="TEST-x", MP_API_BASE_URL=sim.url,
                                 FIRESTORE_EMULATOR_HOST=f"127.0.0.1:{closed_port()}")
        r = client.post("/", data=_task(str(payment["id"])), headers={
            "X-CloudTasks-TaskRetryCount": "0", "Content-Type": "application/json"})
        assert r.status_code == 503 and r.get_json()["result"] == "storage_unavailable"
    finally:
        sim.stop()


def test_fulfill_without_access_token_refuses(function_client, firestore_project):
    client = function_client("fulfill", GOOGLE_CLOUD_PROJECT=firestore_project)
    r = client.post("/", data=_task(), headers={"Content-Type": "application/json"})
    assert r.status_code == 503 and r.get_json()["result"] == "not_configured"


def test_fulfill_last_attempt_failure_is_a_dead_letter(function_client, firestore_project,
                                                       firestore_emulator):
    client = function_client("fulfill", GOOGLE_CLOUD_PROJECT=firestore_project,
                             MP_ACCESS_TOKEN="TEST-x", FULFILL_MAX_ATTEMPTS="5",
                             MP_API_BASE_URL=f"http://127.0.0.1:{closed_port()}")
    early = client.post("/", data=_task("77"), headers={"X-CloudTasks-TaskRetryCount": "1"})
    assert early.status_code == 503
    db = firestore_emulator.client(firestore_project)
    assert list(db.collection("dead_letters").stream()) == []
    last = client.post("/", data=_task("77"), headers={"X-CloudTasks-TaskRetryCount": "4"})
    assert last.status_code == 200 and last.get_json()["result"] == "dead_lettered"
    [letter] = [d.to_dict() for d in db.collection("dead_letters").stream()]
    assert letter["reason"] == "provider_unavailable" and letter["attempts"] == 5
    assert letter["task"]["resource_id"] == "77"


def test_fulfill_malformed_task_is_dead_lettered_not_retried_forever(function_client,
                                                                    firestore_project,
                                                                    firestore_emulator):
    client = function_client("fulfill", GOOGLE_CLOUD_PROJECT=firestore_project,
                             MP_ACCESS_TOKEN="TEST-x")
    r = client.post("/", data=b"{not a task")
    assert r.status_code == 200 and r.get_json()["reason"] == "malformed_task"
    db = firestore_emulator.client(firestore_project)
    assert [d.to_dict()["reason"] for d in db.collection("dead_letters").stream()] == \
        ["malformed_task"]
