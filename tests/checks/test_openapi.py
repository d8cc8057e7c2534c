"""docs/openapi.yaml: a valid OpenAPI 3.1 document that lists every code create_payment raises,
and a response checker that refuses what the document does not describe."""

from __future__ import annotations

import json
import re

import pytest

from local.stack import REPO_ROOT
from tests.support.openapi import DOCUMENT, ContractViolation, check_response, documented_codes


def test_the_document_is_valid_openapi_3_1():
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    spec, _ = read_from_filename(str(DOCUMENT))
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_error_code_raised_on_create_payments_path_is_documented():
    sources = ["functions/create_payment/main.py", "shared/usecases/checkout.py", "shared/platform/web.py",
               "shared/platform/http_context.py"]
    raised: set[tuple[int, str]] = set()
    for source in sources:
        text = (REPO_ROOT / source).read_text()
        raised |= {(int(s), c) for s, c in re.findall(r'ApiError\(\s*(\d{3}),\s*"([a-z_]+)"', text)}
    assert raised, "the scan found nothing: the pattern is stale"
    missing = sorted((s, c) for s, c in raised if c not in documented_codes(s))
    assert missing == []


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def test_documented_answers_pass():
    check_response("POST", "/", 201, "application/json",
                   _json({"order_id": "ord_x", "payment_id": "1", "status": "approved",
                          "status_detail": "accredited"}))
    check_response("GET", "/orders/ord_abcd", 404, "application/json",
                   _json({"error": {"code": "order_not_found", "message": "no such order"}}))
    check_response("GET", "/nowhere", 404, "application/json",
                   _json({"error": {"code": "not_found", "message": "no such endpoint"}}))
    check_response("OPTIONS", "/", 204, "", b"")


@pytest.mark.parametrize(("method", "path", "status", "body"), [
    ("POST", "/", 418, {"error": {"code": "teapot", "message": "x"}}),  # undocumented status
    ("POST", "/", 422, {"error": {"code": "made_up", "message": "x"}}),  # undocumented code
    ("POST", "/", 201, {"order_id": "o", "status": "approved", "surprise": 1}),  # extra field
    ("GET", "/orders/ord_abcd", 200, {"order_id": "o"}),  # missing required fields
    ("GET", "/health", 200, {"status": "ok"}),
])
def test_undocumented_answers_are_refused(method, path, status, body):
    with pytest.raises(ContractViolation):
        check_response(method, path, status, "application/json", _json(body))


def test_a_non_json_error_body_is_refused():
    with pytest.raises(ContractViolation):
        check_response("POST", "/", 400, "text/html", b"<html>")
