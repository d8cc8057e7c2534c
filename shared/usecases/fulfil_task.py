"""The fulfil task: the one message every producer sends fulfill, and the one way to send it.

ipn_webhook (a verified notification), reconcile (a payment Firestore disagrees about), mpctl
(a dead-letter replay, a hand-over, a cleared fraud alert) all build a :class:`FulfilTask`
with the constructor named after them, and :func:`enqueue` it; fulfill :meth:`decodes
<FulfilTask.decode>` it. The type owns the body's JSON (docs/contracts.md, "Cloud Tasks"), the
topics fulfill acts on and each producer's task name: a deterministic ``<prefix>-<sha256
hex>`` of what makes two tasks the same, so Cloud Tasks refuses a second one
(``notification_id`` is that hex, the processed-notification id, except on a hand-over).

Imported by ipn_webhook: no Firestore, no Mercado Pago SDK, Cloud Tasks only when enqueueing.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.adapters.mercadopago import topics
from shared.adapters.tasks import HttpTask, task_id
from shared.domain.records import record
from shared.platform import jsonsafe
from shared.platform.config import Settings
from shared.usecases.ports import TaskQueue

# mpctl's hand-over of an order's pending work (not a Mercado Pago topic: the Orders API's is
# ``order``).
ORDER_HANDOFF = "order_handoff"
# The topics fulfill acts on: Mercado Pago's (project names, never the wire names) and the
# hand-over. A task with any other topic is answered ``ignored``.
HANDLED_TOPICS = topics.PROJECT_TOPICS | {ORDER_HANDOFF}
MAX_RESOURCE_ID = 64
DISPATCH_DEADLINE_SECONDS = 60

_OPTIONAL_TEXT = ("notification_id", "action", "request_id")


class MalformedTask(ValueError):
    """A body that can never become a fulfil task: retrying it cannot help."""


class NotJson(MalformedTask):
    """Not JSON this project accepts (syntax, nesting depth, lone surrogates)."""


class NotAnObject(MalformedTask):
    """JSON, but not an object."""


class BadField(MalformedTask):
    """``topic`` or ``resource_id`` missing, or a field of the wrong type or size."""


@record(frozen=True)
class FulfilTask:
    topic: str
    resource_id: str
    notification_id: str
    action: str = ""
    request_id: str = ""
    resource_signed: bool = True  # False: named only by the notification's unsigned body
    # The Cloud Tasks task id (never in the body): set by the constructors below; "" on a
    # decoded body.
    name: str = dataclasses.field(default="", compare=False)

    # -- the producers ----------------------------------------------------------------------
    @classmethod
    def for_notification(cls, topic: str, resource_id: str, action: str, request_id: str,
                         signed_key: str, resource_signed: bool = True) -> FulfilTask:
        """ipn_webhook: named from what the signature covers (query data.id, x-request-id,
        ts), so a redelivery or a replay with another body is the same task."""
        return cls._named("n", signed_key, topic=topic, resource_id=resource_id,
                          action=action, request_id=request_id,
                          resource_signed=resource_signed)

    @classmethod
    def for_reconcile(cls, payment_id: str, status: str, status_detail: str,
                      date_last_updated: str) -> FulfilTask:
        """reconcile: named from the payment's state, so a second run (or a late
        notification's task) for the same state is the same task."""
        key = f"{payment_id}|{status}|{status_detail}|{date_last_updated}"
        return cls._named("r", key, topic=topics.PAYMENT, resource_id=payment_id,
                          action="reconcile")

    @classmethod
    def for_handoff(cls, order_id: str, pending: Sequence[str]) -> FulfilTask:
        """mpctl's hand-over: named from what is pending, so a repeated command hands over
        once. No notification id: nothing is recorded as processed."""
        name = task_id("h", f"{order_id}:{','.join(pending)}")
        return cls(topic=ORDER_HANDOFF, resource_id=order_id, notification_id="",
                   action="handoff", name=name)

    @classmethod
    def for_cleared_fraud_alert(cls, order_id: str, payment_id: str,
                                cleared_at: datetime) -> FulfilTask:
        """mpctl order clear-fraud-alert: the paying payment again, so the withheld hooks run."""
        return cls._named("c", f"clear-fraud-alert:{order_id}:{cleared_at.isoformat()}",
                          topic=topics.PAYMENT, resource_id=payment_id,
                          action="fraud_alert_cleared")

    def replayed(self, letter_id: str, replay_count: int) -> FulfilTask:
        """A dead letter's task sent again (the n-th time): a new name per replay."""
        name = task_id("d", f"{letter_id}:{replay_count}")
        return dataclasses.replace(self, notification_id=name[2:], action="replay", name=name)

    @classmethod
    def _named(cls, prefix: str, key: str, **fields: Any) -> FulfilTask:
        name = task_id(prefix, key)
        return cls(notification_id=name[2:], name=name, **fields)

    # -- the body ---------------------------------------------------------------------------
    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"topic": self.topic, "resource_id": self.resource_id,
                               "notification_id": self.notification_id, "action": self.action,
                               "request_id": self.request_id}
        if not self.resource_signed:
            out["resource_signed"] = False
        return out

    def encode(self) -> bytes:
        return json.dumps(self.as_dict(), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes, name: str = "") -> FulfilTask:
        """The task a body carries; :class:`MalformedTask` for one that never will."""
        try:
            data = jsonsafe.loads(raw)
        except jsonsafe.MalformedJson as exc:
            raise NotJson(str(exc)) from exc
        if not isinstance(data, dict):
            raise NotAnObject("task body is not an object")
        return dataclasses.replace(cls.from_dict(data), name=name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FulfilTask:
        """The task a decoded body (or a dead letter's stored copy) holds."""
        topic, resource = data.get("topic"), data.get("resource_id")
        if isinstance(resource, int) and not isinstance(resource, bool):
            resource = str(resource)
        if not isinstance(topic, str) or not topic or not isinstance(resource, str) \
                or not resource or len(resource) > MAX_RESOURCE_ID:
            raise BadField("task body lacks topic or resource_id")
        text = {key: data.get(key) or "" for key in _OPTIONAL_TEXT}
        if not all(isinstance(value, str) for value in text.values()):
            raise BadField("notification_id, action and request_id are strings")
        return cls(topic, resource, str(text["notification_id"]), str(text["action"]),
                   str(text["request_id"]), data.get("resource_signed", True) is not False)


def enqueue(settings: Settings, queue: TaskQueue, task: FulfilTask) -> bool:
    """Create the named task on fulfill's queue: True if created, False if it already exists.
    Raises :class:`shared.adapters.tasks.EnqueueError` when Cloud Tasks cannot be reached."""
    if not task.name:
        raise ValueError("a fulfil task is enqueued under its name")
    return queue.enqueue(HttpTask(
        queue=settings.fulfill_queue, task_id=task.name, url=settings.fulfill_url,
        body=task.encode(), headers={"Content-Type": "application/json"},
        oidc_service_account=settings.tasks_service_account,
        oidc_audience=settings.fulfill_auth_audience or settings.fulfill_url,
        dispatch_deadline_seconds=DISPATCH_DEADLINE_SECONDS))
