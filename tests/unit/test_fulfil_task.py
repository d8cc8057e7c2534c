"""The fulfil task's wire format (docs/contracts.md, "Cloud Tasks"): each producer's body and
name byte for byte, decoding with typed errors, and the one enqueue."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from shared.adapters.tasks import HttpTask
from shared.platform.config import Settings
from shared.usecases import fulfil_task
from shared.usecases.fulfil_task import (
    HANDLED_TOPICS,
    BadField,
    FulfilTask,
    MalformedTask,
    NotAnObject,
    NotJson,
)


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_handled_topics_are_mercado_pagos_project_topics_and_the_handoff():
    expected = {"payment", "merchant_order", "chargebacks", "fraud_alert", "order_handoff"}
    assert expected == HANDLED_TOPICS


def test_notification_task():
    signed = "signed|123|req-1|1704908010"
    task = FulfilTask.for_notification("payment", "123", "payment.updated", "req-1", signed)
    assert task.name == "n-" + _sha(signed)
    assert task.encode() == (
        b'{"topic":"payment","resource_id":"123","notification_id":"' + _sha(signed).encode()
        + b'","action":"payment.updated","request_id":"req-1"}')
    unsigned = FulfilTask.for_notification("fraud_alert", "58980959081", "Created", "r",
                                           "signed||r|1", resource_signed=False)
    assert json.loads(unsigned.encode())["resource_signed"] is False


def test_reconcile_task():
    task = FulfilTask.for_reconcile("99", "approved", "accredited", "2026-01-01T00:00:10.000Z")
    digest = _sha("99|approved|accredited|2026-01-01T00:00:10.000Z")
    assert task.name == "r-" + digest
    assert task.encode() == (b'{"topic":"payment","resource_id":"99","notification_id":"'
                             + digest.encode() + b'","action":"reconcile","request_id":""}')


def test_handoff_task():
    task = FulfilTask.for_handoff("ord_1", ["e1", "e2", "fulfilment"])
    assert task.name == "h-" + _sha("ord_1:e1,e2,fulfilment")
    assert task.encode() == (b'{"topic":"order_handoff","resource_id":"ord_1",'
                             b'"notification_id":"","action":"handoff","request_id":""}')


def test_cleared_fraud_alert_task():
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    task = FulfilTask.for_cleared_fraud_alert("ord_1", "77", at)
    digest = _sha(f"clear-fraud-alert:ord_1:{at.isoformat()}")
    assert task.name == "c-" + digest
    assert json.loads(task.encode()) == {"topic": "payment", "resource_id": "77",
                                         "notification_id": digest,
                                         "action": "fraud_alert_cleared", "request_id": ""}


def test_replay_keeps_the_task_and_names_each_replay():
    original = FulfilTask.for_notification("fraud_alert", "5", "Created", "r", "k",
                                           resource_signed=False)
    first, second = original.replayed("letter-1", 1), original.replayed("letter-1", 2)
    assert first.name == "d-" + _sha("letter-1:1") and second.name == "d-" + _sha("letter-1:2")
    assert first.as_dict() == {**original.as_dict(), "notification_id": _sha("letter-1:1"),
                               "action": "replay"}


@pytest.mark.parametrize("task", [
    FulfilTask.for_notification("chargebacks", "123456789012345678", "x", "r", "k"),
    FulfilTask.for_notification("fraud_alert", "5", "", "", "k", resource_signed=False),
    FulfilTask.for_reconcile("1", "approved", "", ""),
    FulfilTask.for_handoff("ord_1", ["fulfilment"]),
])
def test_decode_reads_what_encode_writes(task):
    decoded = FulfilTask.decode(task.encode(), task.name)
    assert decoded == task and decoded.name == task.name
    assert FulfilTask.decode(task.encode()).name == ""


@pytest.mark.parametrize(("raw", "error"), [
    (b"{not json", NotJson),
    (b"\xff\xfe", NotJson),
    (b"[" * 5000 + b"]" * 5000, NotJson),
    (b'{"topic": "payment", "resource_id": "\\ud800"}', NotJson),
    (b"[]", NotAnObject),
    (b'"payment"', NotAnObject),
    (b"{}", BadField),
    (b'{"topic": "payment"}', BadField),
    (b'{"topic": "payment", "resource_id": ""}', BadField),
    (b'{"topic": "payment", "resource_id": "' + b"1" * 65 + b'"}', BadField),
    (b'{"topic": "payment", "resource_id": {"a": 1}}', BadField),
    (b'{"topic": "payment", "resource_id": true}', BadField),
    (b'{"topic": 5, "resource_id": "1"}', BadField),
    (b'{"topic": "payment", "resource_id": "1", "notification_id": ["x"]}', BadField),
])
def test_decode_refuses_what_can_never_be_a_task(raw, error):
    with pytest.raises(error) as caught:
        FulfilTask.decode(raw)
    assert isinstance(caught.value, MalformedTask)


def test_a_numeric_resource_id_is_read_as_text():
    assert FulfilTask.decode(b'{"topic":"payment","resource_id":123}').resource_id == "123"


class _Queue:
    def __init__(self) -> None:
        self.tasks: list[HttpTask] = []

    def enqueue(self, task: HttpTask) -> bool:
        self.tasks.append(task)
        return True


def test_enqueue_sends_the_named_task_to_fulfill():
    settings = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", "FULFILL_URL": "https://f.example",
                                  "FULFILL_QUEUE": "fq",
                                  "TASKS_SERVICE_ACCOUNT": "t@p.iam.gserviceaccount.com"})
    queue = _Queue()
    task = FulfilTask.for_reconcile("1", "approved", "accredited", "x")
    assert fulfil_task.enqueue(settings, queue, task)  # type: ignore[arg-type]
    [sent] = queue.tasks
    assert (sent.queue, sent.task_id, sent.url, sent.body) == ("fq", task.name,
                                                              "https://f.example", task.encode())
    assert sent.headers == {"Content-Type": "application/json"}
    assert (sent.oidc_service_account, sent.oidc_audience, sent.dispatch_deadline_seconds) == (
        "t@p.iam.gserviceaccount.com", "https://f.example", 60)
    with pytest.raises(ValueError):
        fulfil_task.enqueue(settings, queue, FulfilTask("payment", "1", ""))  # type: ignore[arg-type]
