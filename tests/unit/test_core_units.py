"""Config, secrets, schemas, keys, events, money: the small pieces."""

import hashlib
import json
import os
from decimal import Decimal

import pytest

from shared.adapters.store.idempotency import key_hash, payload_hash
from shared.adapters.tasks import task_id
from shared.domain import events
from shared.domain.errors import DomainError
from shared.domain.money import format_amount, same_money, to_decimal, to_json_number
from shared.platform.config import ConfigError, Settings
from shared.platform.error_map import api_error
from shared.platform.log import scrub, trace_fields
from shared.platform.schemas import SchemaError, parse_request, raw_card_fields
from shared.platform.secrets import MissingSecret, SecretReader, SecretUnavailable, secret_ref
from shared.usecases.checkout import notification_url
from shared.usecases.checkout_plan import attempt_key
from shared.usecases.notifications import check_query_id, parse, parse_body

GOOD = {"items": [{"product_id": "demo-product", "quantity": 2}],
        "payer": {"email": "buyer@example.com",
                  "identification": {"type": "CPF", "number": "12345678909"}},
        "payment": {"method": "card", "token": "ff8080814c11e237014c1ff593b57b4d",
                    "payment_method_id": "visa", "installments": 1}}


# -- config ------------------------------------------------------------------------------
def test_config_reads_typed_values_and_defaults():
    s = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", "MAX_BODY_BYTES": "2048",
                           "CORS_ALLOWED_ORIGINS": "https://a.example/, https://b.example",
                           "MP_TIMEOUT_SECONDS": "2.5"})
    assert s.project == "p" and s.max_body_bytes == 2048
    assert s.cors_allowed_origins == ("https://a.example", "https://b.example")
    assert s.mp_timeout_seconds == Decimal("2.5") and s.signature_tolerance_seconds == 600
    assert s.caller_auth == "verify"  # the safe default: signatures checked by the function


@pytest.mark.parametrize("env", [
    {}, {"GOOGLE_CLOUD_PROJECT": "p", "MAX_BODY_BYTES": "many"},
    {"GOOGLE_CLOUD_PROJECT": "p", "MP_TIMEOUT_SECONDS": "-1"},
    {"GOOGLE_CLOUD_PROJECT": "p", "FULFILL_MAX_ATTEMPTS": "0"},
])
def test_config_rejects_unusable_values(env):
    with pytest.raises(ConfigError):
        Settings.from_env(env)


# -- secrets -----------------------------------------------------------------------------
def test_secret_sources_and_repr_hides_value(tmp_path):
    f = tmp_path / "value"
    f.write_text("from-file\n")
    ref = secret_ref({"X_FILE": str(f)}, "X")
    assert SecretReader().require(ref) == "from-file" and ref.source == "file"
    lit = secret_ref({"X": "literal-value"}, "X")
    assert SecretReader().get(lit) == "literal-value"
    assert "literal-value" not in repr(lit)


def test_missing_secret_fails_closed(tmp_path):
    with pytest.raises(MissingSecret):
        SecretReader().require(secret_ref({}, "X"))
    with pytest.raises(SecretUnavailable):
        SecretReader().require(secret_ref({"X_FILE": str(tmp_path / "absent")}, "X"))
    (tmp_path / "empty").write_text("")
    with pytest.raises(SecretUnavailable):
        SecretReader().require(secret_ref({"X_FILE": str(tmp_path / "empty")}, "X"))


def test_file_secret_rotates_after_ttl(tmp_path):
    f = tmp_path / "value"
    f.write_text("v1")
    now = [0.0]
    reader = SecretReader(ttl_seconds=60, clock=lambda: now[0])
    ref = secret_ref({"X_FILE": str(f)}, "X")
    assert reader.require(ref) == "v1"
    f.write_text("v2")
    now[0] = 59
    assert reader.require(ref) == "v1"  # cached
    now[0] = 61
    assert reader.require(ref) == "v2"  # rotation reached the warm instance


# -- request schema ----------------------------------------------------------------------
def test_good_request_parses():
    r = parse_request(GOOD)
    assert r.items[0].quantity == 2 and r.payment.token.startswith("ff80")


@pytest.mark.parametrize(("mutate", "path"), [
    (lambda b: b["items"][0].update(quantity="2"), "$.items[0].quantity"),
    (lambda b: b.pop("payer"), "$.payer"),
    (lambda b: b["payer"].update(email="not-an-email"), "$.payer.email"),
    (lambda b: b["payment"].update(method="bitcoin"), "$.payment.method"),
    (lambda b: b["payment"].pop("method"), "$.payment.method"),
    (lambda b: b["payment"].update(installments=0), "$.payment.installments"),
    (lambda b: b.update(extra=1), "$"),
    (lambda b: b.update(items=[]), "$.items"),
    (lambda b: b.update(order_id="abcdefgh1234"), "$"),
    (lambda b: b["items"].append({"product_id": "demo-product", "quantity": 1}),
     "$.items[1].product_id"),
])
def test_schema_violations_name_the_field(mutate, path):
    body = json.loads(json.dumps(GOOD))
    mutate(body)
    with pytest.raises(SchemaError) as caught:
        parse_request(body)
    assert caught.value.path == path


def test_raw_card_fields_found_at_any_depth():
    body = {"payment": {"card": {"card_number": "4509", "securityCode": "123"}},
            "x": [{"CVV": 1}], "expiration_month": 11}
    assert set(raw_card_fields(body)) == {"$.payment.card.card_number",
                                           "$.payment.card.securityCode", "$.x[0].CVV",
                                           "$.expiration_month"}
    assert raw_card_fields(GOOD) == []


# -- keys --------------------------------------------------------------------------------
def test_attempt_key_is_per_order_and_token():
    k = attempt_key("order1", "tokA")
    assert k == attempt_key("order1", "tokA") and len(k) == 64
    assert k != attempt_key("order1", "tokB") and k != attempt_key("order2", "tokA")


def test_payload_hash_ignores_key_order_and_key_hash_is_stable():
    assert payload_hash({"a": 1, "b": [1, 2]}) == payload_hash({"b": [1, 2], "a": 1})
    assert payload_hash({"a": 1}) != payload_hash({"a": 2})
    assert key_hash("k") == hashlib.sha256(b"k").hexdigest()


def test_task_ids_are_valid_and_stable():
    t = task_id("n", "payment|123|payment.created|999")
    assert t == task_id("n", "payment|123|payment.created|999")
    assert t.replace("-", "").isalnum() and len(t) <= 500


def test_notification_url_asks_for_webhooks_only():
    assert notification_url("https://x/hook") == "https://x/hook?source_news=webhooks"
    assert notification_url("https://x/hook?a=1") == "https://x/hook?a=1&source_news=webhooks"


# -- notification parsing ----------------------------------------------------------------
def test_notification_key_comes_from_signed_values_only():
    q = {"data.id": "123", "type": "payment"}
    created = {"id": 1, "type": "payment", "action": "payment.created", "data": {"id": "123"}}
    altered = {"id": 2, "type": "payment", "action": "payment.updated", "data": {"id": "123"}}
    first = parse(q, {"x-request-id": "r1"}, created, "1704908010")
    replay = parse(q, {"x-request-id": "r1"}, altered, "1704908010")  # body is not signed
    other = parse(q, {"x-request-id": "r2"}, created, "1704908010")
    assert first is not None and replay is not None and other is not None
    assert first.key() == replay.key() != other.key()


@pytest.mark.parametrize(("query", "raw"), [
    ({"data.id": "1", "type": "payment"}, b"{not json"),
    ({"data.id": "1", "type": "payment"}, b"[1]"),
    ({"data.id": "1", "type": "payment"}, b"[" * 40 + b"]" * 40),
])
def test_malformed_notification_bodies_are_400(query, raw):
    with pytest.raises(DomainError) as caught:
        parse(query, {}, parse_body(raw), "1")
    assert api_error(caught.value).status == 400


@pytest.mark.parametrize("query", [
    {"type": "payment"}, {"data.id": "1/../x", "type": "payment"},
    {"data.id": "", "type": "topic_merchant_order_wh"}])
def test_bad_query_data_ids_are_401_before_verification(query):
    with pytest.raises(DomainError) as caught:
        check_query_id(query)
    assert api_error(caught.value).status == 401


# -- money, events, logs -----------------------------------------------------------------
def test_money_is_decimal():
    assert to_decimal(0.1) + to_decimal(0.2) == Decimal("0.3")
    assert format_amount(Decimal("100")) == "100.00"
    assert same_money(Decimal("10"), "brl", Decimal("10.00"), "BRL")
    assert to_json_number(Decimal("19.99")) == 19.99
    with pytest.raises(TypeError):
        to_decimal(True)


def test_merchant_event_signature_round_trip_and_stable_id():
    e = events.build("order.paid", "o1", "p1", Decimal("200"), "BRL", __import__(
        "datetime").datetime.fromtimestamp(1_700_000_000, __import__("datetime").UTC))
    assert e.id == events.event_id("order.paid", "o1")
    body = e.body()
    assert json.loads(body)["amount"] == "200.00"
    header = events.signature("s3cret", e.created, body)
    assert events.verify("s3cret", header, body, 300, 1_700_000_100)
    assert not events.verify("other", header, body, 300, 1_700_000_100)
    assert not events.verify("s3cret", header, body + b" ", 300, 1_700_000_100)
    assert not events.verify("s3cret", header, body, 300, 1_700_001_000)


def test_logs_never_carry_payer_or_card_fields():
    out = scrub({"payer": {"email": "x"}, "email": "y", "token": "t", "order_id": "o",
                 "nested": [{"card_number": "1", "ok": 2}]})
    assert out == {"order_id": "o", "nested": [{"ok": 2}]}


def test_trace_from_traceparent_and_cloud_header():
    tp = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    assert trace_fields(tp, "p")["logging.googleapis.com/trace"] == \
        "projects/p/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    legacy = {"X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1;o=1"}
    fields = trace_fields(legacy, "p")
    assert fields["logging.googleapis.com/spanId"] == "1"
    assert fields["logging.googleapis.com/trace_sampled"] == "true"
    assert trace_fields({}, "p") == {}


def test_settings_from_real_environment_does_not_need_secrets(monkeypatch, tmp_path):
    """Reading the settings only records where each secret lives: nothing is read yet (the
    file does not exist, no Secret Manager answers)."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "p")
    for name in ("MP_ACCESS_TOKEN", "MP_WEBHOOK_SECRET"):
        for suffix in ("", "_FILE", "_SECRET"):
            monkeypatch.delenv(name + suffix, raising=False)
    version = "projects/p/secrets/mp-access-token/versions/latest"
    monkeypatch.setenv("MP_ACCESS_TOKEN_SECRET", version)
    missing = tmp_path / "no-such-secret-file"
    monkeypatch.setenv("MP_WEBHOOK_SECRET_FILE", str(missing))
    s = Settings.from_env(os.environ)
    assert (s.mp_access_token.source, s.mp_access_token.version) == ("secret_manager", version)
    assert (s.mp_webhook_secret.source, s.mp_webhook_secret.file) == ("file", str(missing))
    assert not missing.exists()


def test_order_ids_are_unguessable_and_never_look_like_options():
    from shared.usecases.checkout import new_order_id

    ids = {new_order_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i.startswith("ord_") and len(i) == 28 for i in ids)


# -- wire topics and task bodies --------------------------------------------------------------
def test_wire_topics_map_to_project_topics_in_one_place():
    from shared.adapters.mercadopago import topics

    assert topics.from_wire("payment") == "payment"
    assert topics.from_wire("topic_merchant_order_wh") == "merchant_order"
    assert topics.from_wire("topic_chargebacks_wh") == "chargebacks"
    assert topics.from_wire("stop_delivery_op_wh") == "fraud_alert"
    for ipn_name in ("merchant_order", "chargebacks", "subscription_preapproval", ""):
        assert topics.from_wire(ipn_name) is None
    for topic in topics.PROJECT_TOPICS:
        assert topics.from_wire(topics.to_wire(topic)) == topic


@pytest.mark.parametrize("topic", ["payment", "merchant_order", "chargebacks"])
def test_dead_letters_written_before_the_mapping_still_parse(topic):
    from shared.usecases.fulfil_task import HANDLED_TOPICS, FulfilTask

    old = json.dumps({"topic": topic, "resource_id": "123", "notification_id": "ab",
                      "action": "replay", "request_id": ""}).encode()
    task = FulfilTask.decode(old)
    assert task.topic in HANDLED_TOPICS and task.resource_signed
    assert task.as_dict() == json.loads(old)


def test_unsigned_fraud_alert_task_round_trips():
    from shared.usecases.fulfil_task import FulfilTask

    raw = json.dumps({"topic": "fraud_alert", "resource_id": "58980959081",
                      "notification_id": "cd", "resource_signed": False}).encode()
    task = FulfilTask.decode(raw)
    assert not task.resource_signed and task.as_dict()["resource_signed"] is False
