"""Mercado Pago's date format, test credentials, search filters and Webhooks parsing, each in
one place (shared/adapters/mercadopago)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from shared.adapters.mercadopago.conventions import (
    is_test_credential,
    mp_datetime,
    parse_mp_datetime,
)
from shared.adapters.mercadopago.gateway import order_filters, updated_filters

AMAZON = timezone(timedelta(hours=-4))


def test_dates_go_out_in_utc_with_milliseconds_and_come_back_with_their_offset():
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=AMAZON)
    assert mp_datetime(moment) == "2026-01-02T07:04:05.678+00:00"
    assert parse_mp_datetime("2026-01-02T03:04:05.678-04:00") == moment.replace(
        microsecond=678000)
    assert parse_mp_datetime("2026-01-02T07:04:05") == datetime(2026, 1, 2, 7, 4, 5, tzinfo=UTC)
    for unreadable in (None, "", "yesterday"):
        assert parse_mp_datetime(unreadable) is None


def test_test_credentials_are_the_ones_mercado_pago_prefixes_with_test():
    assert is_test_credential("TEST-123-abc")
    for other in ("APP_USR-123", "test-123", "", None, " TEST-1"):
        assert not is_test_credential(other)


def test_search_filters():
    since = datetime(2026, 1, 1, tzinfo=UTC)
    until = since + timedelta(hours=1)
    assert updated_filters(since, until, 100, 200) == {
        "range": "date_last_updated", "begin_date": "2026-01-01T00:00:00.000+00:00",
        "end_date": "2026-01-01T01:00:00.000+00:00", "sort": "date_last_updated",
        "criteria": "asc", "limit": 100, "offset": 200}
    assert order_filters("ord_1", since, until, 10) == {
        "external_reference": "ord_1", "range": "date_created",
        "begin_date": "2026-01-01T00:00:00.000+00:00", "end_date": "2026-01-01T01:00:00.000+00:00",
        "sort": "date_last_updated", "criteria": "desc", "limit": 10}


def test_a_webhook_that_names_no_resource_is_refused_with_a_typed_error():
    import pytest

    from shared.adapters.mercadopago import webhooks

    with pytest.raises(webhooks.Rejected) as caught:
        webhooks.check_query_id({"type": "payment"})
    assert caught.value.failure is webhooks.SignatureFailure.MALFORMED_DATA_ID
    with pytest.raises(webhooks.Rejected) as caught:
        webhooks.parse_notification({"type": "payment", "data.id": "1"}, {},
                                    {"data": {"id": "2"}}, "1")
    assert caught.value.failure is webhooks.SignatureFailure.DATA_ID_MISMATCH
    with pytest.raises(webhooks.MalformedNotification):
        webhooks.parse_notification({"type": "stop_delivery_op_wh"}, {}, {"data": {}}, "1")
    note = webhooks.parse_notification({"type": "stop_delivery_op_wh"}, {"x-request-id": "r"},
                                       {"action": "Created", "data": {"payment_id": "58"}}, "1")
    assert note is not None and (note.topic, note.resource_id, note.resource_signed) == (
        "fraud_alert", "58", False)
    assert webhooks.parse_notification({"type": "subscription_preapproval"}, {}, {}, "1") is None
