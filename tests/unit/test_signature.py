"""x-signature verification: Mercado Pago's documented shapes, edge cases, and the SDK."""

import pytest
from mercadopago.webhook import WebhookSignatureValidator

from shared.adapters.mercadopago import webhooks
from shared.adapters.mercadopago.webhooks import SignatureFailure, verify

SECRET = "dev-webhook-secret"
VECTORS = [  # from the handbook, computed with the secret above
    ("123456789", "bb56a2f1-6aae-46ac-982e-9dcd3581d08e", "1704908010",
     "fae13552cd723c0a56f6ca081e6ca6ba29c1ae990b4a95bcb00962fe8ac627db"),
    ("ORD01JQ4S4KY8HWQ6NA5PXB65B3D3", "3f4c1e2a-7b9d-4e61-a0c2-5d8e9f1b2c3d", "1742505638683",
     "42726d7841ce9ceb63c9250f2866e10694138bac007a37f4a0b9e2f9f7d22bee"),
    ("123456789", None, "1704908010",
     "90f0c73342b02816d82ce4029c18fb84a87a691151aca2edd7b5c4e9a80f2e7e"),
]


@pytest.mark.parametrize(("data_id", "request_id", "ts", "v1"), VECTORS)
def test_documented_vectors_verify(data_id, request_id, ts, v1):
    result = verify(f"ts={ts},v1={v1}", request_id, data_id, [SECRET], tolerance_seconds=0, now=0)
    assert result.ok and result.secret_index == 0


@pytest.mark.parametrize(("data_id", "request_id", "ts", "v1"), VECTORS)
def test_sign_reproduces_vectors(data_id, request_id, ts, v1):
    assert webhooks.sign(SECRET, data_id, request_id, ts) == v1


@pytest.mark.parametrize(("data_id", "request_id", "ts", "v1"), VECTORS)
def test_official_sdk_validator_agrees(data_id, request_id, ts, v1):
    # Both implementations accept the same vector and refuse the same tampered one.
    WebhookSignatureValidator.validate(f"ts={ts},v1={v1}", request_id, data_id, SECRET)
    tampered = v1[:-1] + ("0" if v1[-1] != "0" else "1")
    with pytest.raises(Exception):
        WebhookSignatureValidator.validate(f"ts={ts},v1={tampered}", request_id, data_id, SECRET)
    assert not verify(f"ts={ts},v1={tampered}", request_id, data_id, [SECRET],
                      tolerance_seconds=0, now=0)


def test_manifest_drops_absent_parts():
    assert webhooks.manifest(None, None, "1") == "ts:1;"
    assert webhooks.manifest("a", None, "1") == "id:a;ts:1;"
    assert webhooks.manifest(None, "r", "1") == "request-id:r;ts:1;"


def test_uppercase_id_signed_lowercased_is_accepted():
    v1 = webhooks.sign(SECRET, "ord01abc", "req", "1704908010")
    assert verify(f"ts=1704908010,v1={v1}", "req", "ORD01ABC", [SECRET], tolerance_seconds=0,
                  now=0).ok


def test_header_with_spaces_and_order_swapped():
    v1 = VECTORS[0][3]
    header = f" v1={v1} , ts=1704908010 "
    assert verify(header, VECTORS[0][1], "123456789", [SECRET], tolerance_seconds=0, now=0).ok


@pytest.mark.parametrize(("header", "failure"), [
    (None, SignatureFailure.MISSING_HEADER),
    ("", SignatureFailure.MISSING_HEADER),
    ("garbage", SignatureFailure.MALFORMED_HEADER),
    ("v1=" + "0" * 64, SignatureFailure.MISSING_TS),
    ("ts=1704908010", SignatureFailure.MISSING_V1),
    ("ts=abc,v1=00", SignatureFailure.INVALID_TS),
    ("ts=1704908010,v1=" + "0" * 64, SignatureFailure.MISMATCH),
])
def test_failures_are_typed(header, failure):
    result = verify(header, "r", "1", [SECRET], tolerance_seconds=0, now=0)
    assert not result.ok and result.failure == failure


def test_no_secret_fails_closed():
    v1 = VECTORS[0][3]
    result = verify(f"ts=1704908010,v1={v1}", VECTORS[0][1], "123456789", [], tolerance_seconds=0,
                    now=0)
    assert result.failure == SignatureFailure.NO_SECRET
    assert verify(f"ts=1704908010,v1={v1}", VECTORS[0][1], "123456789", [""],
                  tolerance_seconds=0, now=0).failure == SignatureFailure.NO_SECRET


def test_freshness_window_seconds_and_milliseconds():
    ts_s, ts_ms = 1_700_000_000, 1_700_000_000_000
    for ts in (ts_s, ts_ms):
        v1 = webhooks.sign(SECRET, "1", "r", str(ts))
        header = f"ts={ts},v1={v1}"
        assert verify(header, "r", "1", [SECRET], tolerance_seconds=300, now=ts_s + 299).ok
        stale = verify(header, "r", "1", [SECRET], tolerance_seconds=300, now=ts_s + 301)
        assert stale.failure == SignatureFailure.STALE
        future = verify(header, "r", "1", [SECRET], tolerance_seconds=300, now=ts_s - 301)
        assert future.failure == SignatureFailure.STALE


def test_rotation_accepts_previous_secret_and_says_so():
    v1 = webhooks.sign("old-secret", "1", "r", "5")
    result = verify(f"ts=5,v1={v1}", "r", "1", ["new-secret", "old-secret"], tolerance_seconds=0,
                    now=0)
    assert result.ok and result.secret_index == 1
    assert not verify(f"ts=5,v1={v1}", "r", "1", ["new-secret"], tolerance_seconds=0, now=0).ok


def test_signature_bound_to_request_id_and_id():
    v1 = webhooks.sign(SECRET, "1", "r", "5")
    assert not verify(f"ts=5,v1={v1}", "other", "1", [SECRET], tolerance_seconds=0, now=0).ok
    assert not verify(f"ts=5,v1={v1}", "r", "2", [SECRET], tolerance_seconds=0, now=0).ok
    assert not verify(f"ts=6,v1={v1}", "r", "1", [SECRET], tolerance_seconds=0, now=0).ok


V1 = "0" * 64


@pytest.mark.parametrize(("header", "failure"), [
    ("ts=\u00b2,v1=" + V1, SignatureFailure.INVALID_TS),          # a superscript two: isdigit()
    ("ts=\u0661\u0662,v1=" + V1, SignatureFailure.INVALID_TS),    # Arabic-Indic digits
    ("ts=" + "9" * 5000 + ",v1=" + V1, SignatureFailure.INVALID_TS),  # int() refuses 5000 digits
    ("ts=1704908010,v1=" + "z" * 64, SignatureFailure.MALFORMED_HEADER),       # not hex
    ("ts=1704908010,v1=" + "\u00e9" * 64, SignatureFailure.MALFORMED_HEADER),  # not ASCII
    ("ts=1704908010,v1=abc", SignatureFailure.MALFORMED_HEADER),                # too short
    ("ts=1704908010,ts=1704908011,v1=" + V1, SignatureFailure.MALFORMED_HEADER),  # repeated ts
    ("ts=1704908010,v1=" + V1 + ",v1=" + V1, SignatureFailure.MALFORMED_HEADER),  # repeated v1
    ("ts=1704908010,,v1=" + V1, SignatureFailure.MALFORMED_HEADER),             # empty part
    ("ts=,v1=" + V1, SignatureFailure.MALFORMED_HEADER),                        # empty value
    ("=1,ts=1704908010,v1=" + V1, SignatureFailure.MALFORMED_HEADER),           # empty key
])
def test_malformed_headers_fail_typed_never_raise(header, failure):
    for tolerance in (0, 600):
        result = verify(header, "r", "1", [SECRET], tolerance_seconds=tolerance, now=1704908010)
        assert not result.ok and result.failure == failure


def test_success_reports_the_signed_ts():
    v1 = webhooks.sign(SECRET, "1", "r", "1704908010")
    result = verify(f"ts=1704908010,v1={v1}", "r", "1", [SECRET], tolerance_seconds=0, now=0)
    assert result.ok and result.ts == "1704908010"
