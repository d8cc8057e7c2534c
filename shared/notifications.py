"""ipn_webhook's use case: verify a Mercado Pago notification and queue it for fulfil.

Cheap on purpose: no Firestore, no Mercado Pago SDK. The task is named from the notification
(topic, resource id, action and the notification's own id), so a redelivery finds its task
already there, while a later ``payment.updated`` for the same payment is a new task.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared import log, signature
from shared.config import Settings
from shared.secrets import SecretError, reader
from shared.tasks import EnqueueError, HttpTask, TaskQueue, task_id
from shared.web import ApiError

HANDLED_TOPICS = frozenset({"payment", "merchant_order", "chargebacks"})
# Mercado Pago names topics differently in query, body and dashboard.
_TOPIC_ALIASES = {"payment": "payment", "payments": "payment",
                  "merchant_order": "merchant_order", "topic_merchant_order_wh": "merchant_order",
                  "chargebacks": "chargebacks", "chargeback": "chargebacks",
                  "topic_chargebacks_wh": "chargebacks"}
MAX_RESOURCE_ID = 64


@dataclass(frozen=True)
class Notification:
    topic: str
    resource_id: str
    action: str
    notification_id: str  # the body's own id, when present
    request_id: str

    def key(self) -> str:
        return "|".join([self.topic, self.resource_id, self.action,
                         self.notification_id or self.request_id])


def parse(query: Mapping[str, str], headers: Mapping[str, str], raw: bytes) -> Notification:
    """Read the notification from query and body; 400 on anything malformed."""
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "malformed_json", "the body is not valid JSON") from exc
        if not isinstance(body, dict):
            raise ApiError(400, "malformed_body", "the body must be a JSON object")
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    resource_id = query.get("data.id") or str(data.get("id") or "") or query.get("id", "")
    topic_raw = query.get("type") or str(body.get("type") or "") or query.get("topic", "")
    if not resource_id or not topic_raw:
        raise ApiError(400, "malformed_notification", "data.id and type are required")
    if len(resource_id) > MAX_RESOURCE_ID or not resource_id.replace("-", "").replace(
            "_", "").isalnum():
        raise ApiError(400, "malformed_notification", "data.id is not a resource id")
    return Notification(
        topic=_TOPIC_ALIASES.get(topic_raw, topic_raw)[:64],
        resource_id=resource_id,
        action=str(body.get("action") or "")[:64],
        notification_id=str(body.get("id") or "")[:64],
        request_id=headers.get("x-request-id", "")[:128],
    )


class Intake:
    def __init__(self, settings: Settings, queue: Callable[[], TaskQueue],
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._queue = queue
        self._clock = clock

    def secrets(self) -> list[str]:
        found = []
        for ref in (self._settings.mp_webhook_secret, self._settings.mp_webhook_secret_previous):
            try:
                value = reader().get(ref)
            except SecretError:
                log.error("secret_unavailable", f"{ref.name} could not be read")
                value = None
            if value:
                found.append(value)
        return found

    def verify(self, query: Mapping[str, str], headers: Mapping[str, str]) -> None:
        """Raise 401 unless the x-signature is valid for the query's data.id."""
        result = signature.verify(
            headers.get("x-signature"),
            headers.get("x-request-id"),
            query.get("data.id"),
            self.secrets(),
            tolerance_seconds=self._settings.signature_tolerance_seconds,
            now=self._clock(),
        )
        if not result.ok:
            assert result.failure is not None
            log.warning("signature_rejected", "notification signature rejected",
                        reason=result.failure.value)
            raise ApiError(401, "invalid_signature", "the notification signature is not valid",
                           extra={"reason": result.failure.value})
        if result.secret_index == 1:
            log.info("signature_previous_secret", "accepted with the previous webhook secret")

    def enqueue(self, note: Notification) -> bool:
        if not self._settings.fulfill_url:
            raise ApiError(503, "not_configured", "FULFILL_URL is not configured")
        body = json.dumps({"topic": note.topic, "resource_id": note.resource_id,
                           "notification_id": task_id("n", note.key())[2:],
                           "action": note.action, "request_id": note.request_id},
                          separators=(",", ":")).encode()
        try:
            return self._queue().enqueue(HttpTask(
                queue=self._settings.fulfill_queue,
                task_id=task_id("n", note.key()),
                url=self._settings.fulfill_url,
                body=body,
                headers={"Content-Type": "application/json"},
                oidc_service_account=self._settings.tasks_service_account,
                oidc_audience=self._settings.fulfill_auth_audience or self._settings.fulfill_url,
                dispatch_deadline_seconds=60,
            ))
        except EnqueueError as exc:
            log.error("enqueue_failed", "could not queue the notification", error=str(exc))
            raise ApiError(503, "enqueue_failed", "could not queue the notification; retry",
                           headers={"Retry-After": "5"}) from exc
