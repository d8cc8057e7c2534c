"""The attempt limits through create_payment's HTTP entry point on the Firestore emulator:
the 429 contract, the client address from X-Forwarded-For, replays not counted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from local.seed import seed
from shared.adapters.store.idempotency import key_hash, payload_hash
from tests.support.functions import closed_port

BODY = {"items": [{"product_id": "demo-product", "quantity": 1}],
        "payer": {"email": "buyer@example.com"},
        "payment": {"method": "card", "token": "abcdef0123456789", "payment_method_id": "visa"}}


def _client(function_client, project: str, **env: str):
    return function_client(
        "create_payment", GOOGLE_CLOUD_PROJECT=project, NOTIFICATION_URL="http://127.0.0.1:9/",
        MP_ACCESS_TOKEN="TEST-x", MP_API_BASE_URL=f"http://127.0.0.1:{closed_port()}",
        RATE_LIMIT_KEY="test-only-key", RATE_LIMIT_CARD="0", RATE_LIMIT_PAYER="0",
        RATE_LIMIT_ORDERS_IP="0", RATE_LIMIT_IP="1/600", CLIENT_IP_TRUSTED_HOPS="1", **env)


def test_ip_limit_answers_429_with_retry_after_for_the_trusted_entry(
        function_client, firestore_project, firestore_emulator):
    seed(firestore_project, firestore_emulator.host)
    client = _client(function_client, firestore_project)
    # Admitted and counted; Mercado Pago is unreachable here, so the attempt ends in a 503.
    first = client.post("/", json=BODY, headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})
    assert first.status_code == 503 and first.get_json()["error"]["code"] == "provider_unreachable"
    # Another spoofed left entry, the same address Cloud Run saw: refused.
    second = client.post("/", json=BODY, headers={"X-Forwarded-For": "7.7.7.7, 203.0.113.9"})
    assert second.status_code == 429
    error = second.get_json()["error"]
    assert error["code"] == "rate_limited" and isinstance(error["retry_after"], int)
    assert second.headers["Retry-After"] == str(error["retry_after"])
    assert 1 <= error["retry_after"] <= 600
    # Another address is not limited.
    third = client.post("/", json=BODY, headers={"X-Forwarded-For": "203.0.113.10"})
    assert third.status_code == 503
    db = firestore_emulator.client(firestore_project)
    assert list(db.collection("orders").stream()) == []
    assert list(db.collection("idempotency").stream()) == []
    [ip9, ip10] = sorted(d.to_dict()["count"] for d in db.collection("rate_limits").stream())
    assert (ip9, ip10) == (1, 1)


def test_an_idempotent_replay_is_answered_even_when_the_limit_is_full(
        function_client, firestore_project, firestore_emulator):
    seed(firestore_project, firestore_emulator.host)
    db = firestore_emulator.client(firestore_project)
    now = datetime.now(UTC)
    answer = {"order_id": "ord_x", "payment_id": "1", "status": "approved",
              "status_detail": "accredited"}
    db.collection("idempotency").document(key_hash("key-1")).set({
        "status": "completed", "payload_hash": payload_hash(BODY), "order_id": "ord_x",
        "response_status": 201, "response_body": json.dumps(answer),
        "created_at": now, "expires_at": now + timedelta(days=1)})
    client = _client(function_client, firestore_project)
    headers = {"X-Forwarded-For": "203.0.113.9"}
    client.post("/", json=BODY, headers=headers)  # fills the 1/600 window
    refused = client.post("/", json=BODY, headers={**headers, "Idempotency-Key": "key-2"})
    assert refused.status_code == 429
    replay = client.post("/", json=BODY, headers={**headers, "Idempotency-Key": "key-1"})
    assert replay.status_code == 201 and replay.get_json() == answer
    assert replay.headers["Idempotent-Replayed"] == "true"
