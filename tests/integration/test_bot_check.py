"""create_payment's optional bot check, through the real reCAPTCHA Enterprise client against
the local fake assessment server: every outcome, replays unchecked, fail-open."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from local.recaptcha_fake import FakeHandle, start_fake
from local.seed import seed
from shared.adapters.store.idempotency import key_hash, payload_hash
from tests.support.functions import closed_port

BODY = {"items": [{"product_id": "demo-product", "quantity": 1}],
        "payer": {"email": "buyer@example.com"},
        "payment": {"method": "card", "token": "abcdef0123456789", "payment_method_id": "visa"}}
PASSED = "provider_unreachable"  # past the bot check, Mercado Pago is unreachable here


@pytest.fixture
def fake() -> Iterator[FakeHandle]:
    handle = start_fake()
    yield handle
    handle.stop()


@pytest.fixture
def client(function_client, firestore_project, firestore_emulator, fake):
    seed(firestore_project, firestore_emulator.host)

    def build(**env: str):
        return function_client(
            "create_payment", GOOGLE_CLOUD_PROJECT=firestore_project,
            NOTIFICATION_URL="http://127.0.0.1:9/", MP_ACCESS_TOKEN="TEST-x",
            MP_API_BASE_URL=f"http://127.0.0.1:{closed_port()}", RATE_LIMIT_KEY="test-only-key",
            RECAPTCHA_SITE_KEY="local-fake-site-key", RECAPTCHA_API_HOST=fake.target,
            RECAPTCHA_MIN_SCORE="0.5", **env)
    return build


def _post(c, token: str | None, **headers: str):
    if token is not None:
        headers["X-Recaptcha-Token"] = token
    return c.post("/", json=BODY, headers=headers)


def _code(r) -> str:
    return str(r.get_json()["error"]["code"])


@pytest.mark.parametrize("token", [None, "", "invalid-EXPIRED", "action-login", "ok-0.3",
                                   "garbage"])
def test_a_failed_check_is_403_and_writes_nothing(client, token, firestore_project,
                                                  firestore_emulator):
    r = _post(client(), token)
    assert r.status_code == 403 and _code(r) == "bot_check_failed"
    db = firestore_emulator.client(firestore_project)
    for collection in ("orders", "idempotency", "rate_limits"):
        assert list(db.collection(collection).stream()) == []


def test_a_good_token_passes_once(client, fake):
    c = client()
    first = _post(c, "ok-0.9")
    assert first.status_code == 503 and _code(first) == PASSED
    again = _post(c, "ok-0.9")  # single-use
    assert again.status_code == 403 and _code(again) == "bot_check_failed"
    assert fake.state.assessments == 2


def test_assessment_api_down_is_503_or_fails_open_when_set(client):
    r = _post(client(), "down")
    assert r.status_code == 503 and _code(r) == "bot_check_unavailable"
    assert r.get_json()["error"]["retryable"] is True and r.headers["Retry-After"]
    r = _post(client(RECAPTCHA_FAIL_OPEN="true"), "down")
    assert r.status_code == 503 and _code(r) == PASSED


def test_an_idempotent_replay_is_answered_without_a_new_check(client, fake, firestore_project,
                                                              firestore_emulator):
    db = firestore_emulator.client(firestore_project)
    now = datetime.now(UTC)
    answer = {"order_id": "ord_x", "payment_id": "1", "status": "approved",
              "status_detail": "accredited"}
    db.collection("idempotency").document(key_hash("key-1")).set({
        "status": "completed", "payload_hash": payload_hash(BODY), "order_id": "ord_x",
        "response_status": 201, "response_body": json.dumps(answer),
        "created_at": now, "expires_at": now + timedelta(days=1)})
    r = _post(client(), "ok-0.9", **{"Idempotency-Key": "key-1"})  # the token already used
    assert r.status_code == 201 and r.get_json() == answer
    assert fake.state.assessments == 0


def test_cors_allows_the_token_header(client):
    c = client(CORS_ALLOWED_ORIGINS="https://shop.example")
    r = c.options("/", headers={"Origin": "https://shop.example",
                                "Access-Control-Request-Method": "POST"})
    assert "X-Recaptcha-Token" in r.headers["Access-Control-Allow-Headers"]
