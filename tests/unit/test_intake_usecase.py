"""Intake (ipn_webhook's use case), every branch, with a fake task queue: verification,
parsing, naming and queueing of Mercado Pago notifications."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from shared.adapters.mercadopago.webhooks import sign
from shared.adapters.tasks import EnqueueError
from shared.domain.errors import DomainError
from shared.platform.error_map import api_error
from shared.platform.secrets import SecretRef
from shared.platform.web import ApiError
from shared.usecases.notifications import Intake
from tests.support.fakes.tasks import FakeTaskQueue
from tests.support.fakes.world import FULFILL_URL, settings

NOW = 1_767_000_000.0
TS = str(int(NOW * 1000))
SECRET = "unit-webhook-secret"
PREVIOUS = "unit-webhook-secret-old"


@pytest.fixture
def queue() -> FakeTaskQueue:
    return FakeTaskQueue({"fulfill"})


def intake(queue: FakeTaskQueue, **changes: Any) -> Intake:
    return Intake(settings(**changes), lambda: queue, clock=lambda: NOW)


def signed(data_id: str | None, request_id: str = "req-1", secret: str = SECRET,
           ts: str = TS) -> dict[str, str]:
    return {"x-signature": f"ts={ts},v1={sign(secret, data_id, request_id, ts)}",
            "x-request-id": request_id}


def payment(data_id: str = "9001", **headers: str) -> tuple[dict[str, str], dict[str, str],
                                                             bytes]:
    body = json.dumps({"type": "payment", "action": "payment.updated", "data": {"id": data_id}})
    return ({"type": "payment", "data.id": data_id}, {**signed(data_id), **headers},
            body.encode())


def refused(call: Any) -> ApiError:
    """The HTTP answer ipn_webhook gives for the use case's refusal."""
    with pytest.raises(DomainError) as caught:
        call()
    return api_error(caught.value)


def test_a_signed_payment_notification_is_queued_for_fulfil(queue):
    query, headers, body = payment()
    assert intake(queue).receive(query, headers, body) == "queued"
    [task] = queue.on("fulfill")
    fields = json.loads(task.body)
    assert (fields["topic"], fields["resource_id"], fields["action"], fields["request_id"]) == (
        "payment", "9001", "payment.updated", "req-1")
    assert "resource_signed" not in fields  # the signed query named it
    assert task.url == FULFILL_URL and task.oidc_audience == FULFILL_URL
    assert task.task_id == "n-" + fields["notification_id"]


def test_a_redelivery_of_the_same_signed_request_is_a_duplicate(queue):
    query, headers, body = payment()
    intake(queue).receive(query, headers, body)
    assert intake(queue).receive(query, headers, b'{"type": "payment", "data": {}}') == \
        "duplicate"
    assert len(queue.tasks) == 1


def test_two_genuine_notifications_of_one_resource_are_two_tasks(queue):
    query, headers, body = payment()
    intake(queue).receive(query, headers, body)
    assert intake(queue).receive(query, signed("9001", "req-2"), body) == "queued"
    assert len(queue.tasks) == 2


def test_a_legacy_ipn_is_ignored_without_verification(queue):
    assert intake(queue).receive({"topic": "payment", "id": "9001"}, {}, b"") == "ignored"
    assert queue.tasks == {}


def test_a_topic_this_project_does_not_handle_is_ignored(queue):
    query = {"type": "point_integration_wh", "data.id": "55"}
    assert intake(queue).receive(query, signed("55"), b"{}") == "ignored"
    assert queue.tasks == {}


@pytest.mark.parametrize("headers", [
    {},  # no signature
    signed("9001", secret="another-secret"),
    signed("9002"),  # signed for another resource
    signed("9001", ts=str(int((NOW - 3600) * 1000))),  # stale
])
def test_a_notification_that_is_not_validly_signed_is_refused(queue, headers):
    query, _, body = payment()
    error = refused(lambda: intake(queue).receive(query, headers, body))
    assert (error.status, error.code) == (401, "invalid_signature")
    assert queue.tasks == {}


def test_the_previous_webhook_secret_is_still_accepted_during_a_rotation(queue):
    query, _, body = payment()
    rotating = intake(queue, mp_webhook_secret_previous=SecretRef(
        "MP_WEBHOOK_SECRET_PREVIOUS", literal=PREVIOUS))
    assert rotating.receive(query, signed("9001", secret=PREVIOUS), body) == "queued"
    error = refused(lambda: intake(queue).receive(query, signed("9001", "req-9", PREVIOUS),
                                                  body))
    assert error.status == 401


def test_without_any_webhook_secret_every_notification_is_refused(queue):
    query, headers, body = payment()
    closed = Intake(replace(settings(), mp_webhook_secret=SecretRef("MP_WEBHOOK_SECRET")),
                    lambda: queue, clock=lambda: NOW)
    assert refused(lambda: closed.receive(query, headers, body)).status == 401


@pytest.mark.parametrize("query", [
    {"type": "payment"},  # data.id is required for a payment
    {"type": "payment", "data.id": "90 01"},
    {"type": "payment", "data.id": "9" * 65},
])
def test_a_malformed_query_data_id_is_refused_before_verification(queue, query):
    error = refused(lambda: intake(queue).receive(query, signed(query.get("data.id")), b"{}"))
    assert error.status == 401 and error.extra == {"reason": "malformed_data_id"}


def test_a_body_naming_another_resource_than_the_signed_query_is_refused(queue):
    query, headers, _ = payment()
    body = json.dumps({"type": "payment", "data": {"id": "666"}}).encode()
    error = refused(lambda: intake(queue).receive(query, headers, body))
    assert error.status == 401 and error.extra == {"reason": "data_id_mismatch"}


@pytest.mark.parametrize(("body", "code"), [
    (b"{not json", "malformed_json"), (b"[1, 2]", "malformed_body")])
def test_a_body_that_is_not_a_json_object_is_a_400(queue, body, code):
    query, headers, _ = payment()
    error = refused(lambda: intake(queue).receive(query, headers, body))
    assert (error.status, error.code) == (400, code)


def test_a_fraud_alert_names_its_payment_in_the_unsigned_body(queue):
    body = json.dumps({"type": "stop_delivery_op_wh", "data": {"payment_id": 123456}}).encode()
    query = {"type": "stop_delivery_op_wh"}
    assert intake(queue).receive(query, signed(None), body) == "queued"
    [fields] = queue.bodies("fulfill")
    assert (fields["topic"], fields["resource_id"], fields["resource_signed"]) == (
        "fraud_alert", "123456", False)


def test_a_fraud_alert_without_a_payment_id_is_a_400(queue):
    body = json.dumps({"type": "stop_delivery_op_wh", "data": {}}).encode()
    error = refused(lambda: intake(queue).receive({"type": "stop_delivery_op_wh"}, signed(None),
                                                  body))
    assert (error.status, error.code) == (400, "malformed_notification")


def test_a_chargeback_takes_its_action_from_the_actions_list(queue):
    query = {"type": "topic_chargebacks_wh", "data.id": "cb77"}
    body = json.dumps({"type": "topic_chargebacks_wh", "actions": ["changed_case_status"],
                       "data": {"id": "cb77"}}).encode()
    assert intake(queue).receive(query, signed("cb77"), body) == "queued"
    [fields] = queue.bodies("fulfill")
    assert (fields["topic"], fields["action"]) == ("chargebacks", "changed_case_status")


def test_without_a_fulfil_url_the_notification_is_refused_for_a_retry(queue):
    query, headers, body = payment()
    error = refused(lambda: intake(queue, fulfill_url="").receive(query, headers, body))
    assert (error.status, error.code) == (503, "not_configured")


def test_a_queue_outage_is_a_503_with_retry_after(queue):
    query, headers, body = payment()
    queue.fail_next("enqueue", EnqueueError("could not enqueue on fulfill: Unavailable"))
    error = refused(lambda: intake(queue).receive(query, headers, body))
    assert (error.status, error.code) == (503, "enqueue_failed")
    assert error.headers["Retry-After"] == "5"
    assert intake(queue).receive(query, headers, body) == "queued"  # Mercado Pago's retry
