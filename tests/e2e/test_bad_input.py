"""create_payment's error contract: stable codes, right statuses, nothing written."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.e2e_client import StackClient

pytestmark = pytest.mark.e2e


def _assert_error(r: requests.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def _nothing_written(c: StackClient) -> None:
    assert c.docs("orders") == [] and c.docs("idempotency") == [] and c.docs("payments") == []


def test_malformed_json_is_400(live):
    c = StackClient(live)
    r = c.http.post(c.urls.create_payment + "/", data=b"{not json",
                    headers={"Content-Type": "application/json"}, timeout=5)
    _assert_error(r, 400, "malformed_json")
    _nothing_written(c)


def test_schema_violation_names_the_field(live):
    c = StackClient(live)
    body = c.body("tok12345678")
    body["items"][0]["quantity"] = "two"
    error = _assert_error(c.pay(body), 400, "invalid_request")
    assert error["fields"][0]["path"] == "$.items[0].quantity"
    _nothing_written(c)


def test_raw_card_data_is_refused_and_never_logged(live):
    c = StackClient(live)
    body = c.body("tok12345678")
    body["payment"]["card_number"] = "4509953566233704"
    body["payment"]["security_code"] = "987"
    error = _assert_error(c.pay(body), 400, "raw_card_data_forbidden")
    assert {f["path"] for f in error["fields"]} == {"$.payment.card_number",
                                                     "$.payment.security_code"}
    _nothing_written(c)
    log = live.log_path("create_payment").read_text()
    assert "4509953566233704" not in log and "buyer@example.com" not in log
    assert "raw_card_data_rejected" in log


@pytest.mark.parametrize(("items", "code"), [
    ([{"product_id": "no-such-product", "quantity": 1}], "unknown_product"),
    ([{"product_id": "demo-inactive", "quantity": 1}], "unknown_product"),
    ([{"product_id": "demo-product", "quantity": 0}], "invalid_quantity"),
    ([{"product_id": "demo-product", "quantity": 1000}], "invalid_quantity"),
])
def test_unknown_inactive_product_or_bad_quantity_is_422(live, items, code):
    c = StackClient(live)
    error = _assert_error(c.pay(c.body("tok12345678", items=items)), 422, code)
    assert error["fields"][0]["path"].startswith("$.items[0]")
    _nothing_written(c)


def test_not_json_is_415_and_oversized_is_413(live):
    c = StackClient(live)
    r = c.http.post(c.urls.create_payment + "/", data="items=1",
                    headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=5)
    _assert_error(r, 415, "unsupported_media_type")
    big = json.dumps({"pad": "x" * 70000})
    r = c.http.post(c.urls.create_payment + "/", data=big,
                    headers={"Content-Type": "application/json"}, timeout=5)
    _assert_error(r, 413, "body_too_large")
    _nothing_written(c)


def test_wrong_method_is_405_and_unknown_order_is_404(live):
    c = StackClient(live)
    r = c.http.get(c.urls.create_payment + "/", timeout=5)
    assert _assert_error(r, 405, "method_not_allowed") and "POST" in r.headers["Allow"]
    r = c.http.delete(c.urls.create_payment + "/orders/abcdefghijkl", timeout=5)
    _assert_error(r, 405, "method_not_allowed")
    _assert_error(c.http.get(c.urls.create_payment + "/orders/doesnotexist123", timeout=5),
                  404, "order_not_found")
    _assert_error(c.http.get(c.urls.create_payment + "/orders/../../etc", timeout=5),
                  404, "not_found")
    paying_unknown = c.pay(c.body("tok12345678", order_id="doesnotexist123"))
    _assert_error(paying_unknown, 404, "order_not_found")


def test_cors_allows_configured_origins_only(live):
    c = StackClient(live)
    pre = c.http.options(c.urls.create_payment + "/", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}, timeout=5)
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Idempotency-Key" in pre.headers["Access-Control-Allow-Headers"]
    evil = c.http.options(c.urls.create_payment + "/", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=5)
    assert evil.status_code == 403 and "Access-Control-Allow-Origin" not in evil.headers
    get = c.http.get(c.urls.create_payment + "/orders/doesnotexist123",
                     headers={"Origin": "http://localhost:3000"}, timeout=5)
    assert get.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert get.headers.get("Access-Control-Allow-Origin") != "*"


def test_provider_5xx_keeps_the_order_and_a_keyed_retry_charges_once(live):
    c = StackClient(live)
    body = c.body(c.card_token())
    key = {"Idempotency-Key": "retry-after-5xx"}
    # A 5xx does not say the payment was not created: the order stays, its id is returned.
    c.fault(status=500, path_prefix="/v1/payments", method="POST", count=1)
    r = c.pay(body, key)
    error = _assert_error(r, 503, "payment_outcome_unknown")
    assert error["retryable"] is True and r.headers["Retry-After"]
    [kept] = c.docs("orders")
    assert kept["_id"] == error["order_id"] and kept["status"] == "pending"
    ok = c.pay(body, key)
    assert ok.status_code == 201, ok.text
    assert ok.json()["order_id"] == error["order_id"]
    assert len(c.sim_payments_for(ok.json()["order_id"])) == 1


def test_provider_timeout_keeps_the_order_and_a_keyed_retry_charges_once(live):
    c = StackClient(live)
    body = c.body(c.card_token())
    key = {"Idempotency-Key": "retry-after-timeout"}
    # The payment is created, but the answer comes too late: the charge outcome is unknown,
    # so the order stays (its notification must find it) and its id is returned.
    c.fault(timeout_s=3, path_prefix="/v1/payments", method="POST", count=1, phase="after")
    r = c.pay(body, key)
    error = _assert_error(r, 503, "payment_outcome_unknown")
    order_id = error["order_id"]
    assert error["retryable"] is True
    c.clear_faults()
    ok = c.pay(body, key)
    assert ok.status_code == 201, ok.text
    assert ok.json()["order_id"] == order_id
    assert len(c.sim_payments_for(order_id)) == 1  # same X-Idempotency-Key: same payment
    c.wait_order(order_id, "paid")
    assert len(c.docs("orders")) == 1


def test_provider_timeout_without_key_retried_by_order_id_charges_once(live):
    c = StackClient(live)
    token = c.card_token()
    c.fault(timeout_s=3, path_prefix="/v1/payments", method="POST", count=1, phase="after")
    r = c.pay(c.body(token))
    order_id = _assert_error(r, 503, "payment_outcome_unknown")["order_id"]
    c.clear_faults()
    c.wait_order(order_id, "paid")  # the notification found the kept order
    ok = c.pay(c.body(token, order_id=order_id))
    assert ok.status_code == 201, ok.text  # a retry of the attempt that paid it
    [payment] = c.sim_payments_for(order_id)
    assert ok.json()["order_id"] == order_id and ok.json()["payment_id"] == str(payment["id"])


def test_a_definite_refusal_deletes_the_draft(live):
    c = StackClient(live)
    token = c.card_token()
    first = c.pay(c.body(token))
    assert first.status_code == 201, first.text
    c.wait_order(first.json()["order_id"], "paid")
    # A used token: Mercado Pago answers 400 with a cause, so no payment was created.
    r = c.pay(c.body(token))
    error = _assert_error(r, 422, "payment_request_rejected")
    assert error["provider_causes"] == ["3003"] and "order_id" not in error
    assert [o["_id"] for o in c.docs("orders")] == [first.json()["order_id"]]
