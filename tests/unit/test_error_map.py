"""The one table from domain errors to HTTP answers: every error has its status and code, and
the answer carries the error's facts."""

from __future__ import annotations

import inspect

import pytest

from shared.domain import errors
from shared.platform.error_map import TABLE, api_error

ALL = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
       if issubclass(cls, errors.DomainError) and cls is not errors.DomainError]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_domain_error_has_an_answer(cls):
    answer = api_error(cls("message"))
    assert cls in TABLE and 400 <= answer.status < 600 and answer.code != "internal"


def test_unknown_outcome_is_said_and_kept_with_the_order_id():
    error = errors.StorageUnavailable("down", outcome_unknown=True)
    error.detail["order_id"] = "ord_1"
    body = api_error(error).body()["error"]
    assert body == {"code": "storage_unavailable", "message": "down", "retryable": True,
                    "outcome_unknown": True, "order_id": "ord_1"}
    assert api_error(error).headers == {"Retry-After": "2"}


def test_payment_outcome_unknown_always_says_so():
    answer = api_error(errors.PaymentOutcomeUnknown("lost"))
    assert (answer.status, answer.extra) == (503, {"retryable": True, "outcome_unknown": True})


def test_an_error_retry_hint_overrides_the_table():
    answer = api_error(errors.RateLimited("slow", retry_after=570, detail={"retry_after": 570}))
    assert answer.status == 429 and answer.headers == {"Retry-After": "570"}
    assert answer.body()["error"]["retry_after"] == 570


def test_fields_reach_the_body():
    fields = [{"path": "$.items[0].quantity", "message": "must be 1 to 99"}]
    body = api_error(errors.InvalidQuantity("bad", fields)).body()
    assert body["error"]["fields"] == fields and body["error"]["code"] == "invalid_quantity"
