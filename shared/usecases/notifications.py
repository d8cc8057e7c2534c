"""ipn_webhook's use case: verify a Mercado Pago notification and queue it for fulfil.

Cheap on purpose: no Firestore, no Mercado Pago SDK. What the signature covers is the query
``data.id``, the ``x-request-id`` header and the ``ts`` (never the body, ``type`` or
``action``), so the task is named from exactly those: a redelivery of one signed request, or
a replay of it with another body, finds its task already there (``duplicate``), while two
genuine notifications (each with its own ``x-request-id``), such as successive updates of one
merchant order, are two tasks. Wire topic names map to the project's in
:mod:`shared.adapters.mercadopago.webhooks`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.adapters.mercadopago import webhooks
from shared.adapters.mercadopago.webhooks import SignatureFailure
from shared.adapters.tasks import EnqueueError, TaskQueue
from shared.platform import jsonsafe, log
from shared.platform.config import Settings
from shared.platform.secrets import SecretError, reader
from shared.platform.web import ApiError
from shared.usecases import fulfil_task
from shared.usecases.fulfil_task import FulfilTask

MAX_RESOURCE_ID = 64
_RESOURCE_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_PAYMENT_ID = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class Notification:
    topic: str  # the project's topic name (payment, merchant_order, chargebacks, fraud_alert)
    resource_id: str
    action: str
    request_id: str
    signed_key: str  # what the signature covers: data.id, x-request-id, ts
    resource_signed: bool = True  # False: the resource id came from the (unsigned) body

    def key(self) -> str:
        return self.signed_key


def is_legacy_ipn(query: Mapping[str, str]) -> bool:
    """``?topic=...&id=...``: Mercado Pago's IPN, which carries no verifiable signature."""
    return "topic" in query and "type" not in query and "data.id" not in query


def _reject(failure: SignatureFailure, message: str) -> ApiError:
    log.warning("signature_rejected", message, reason=failure.value)
    return ApiError(401, "invalid_signature", "the notification signature is not valid",
                    extra={"reason": failure.value})


def check_query_id(query: Mapping[str, str]) -> str | None:
    """The query ``data.id``, checked before any verification: ASCII, 1-64 characters, and
    present when the query's topic names its resource there."""
    data_id = query.get("data.id")
    topic = webhooks.from_wire(query.get("type", ""))
    if data_id is None:
        if topic in webhooks.RESOURCE_IN_QUERY:
            raise _reject(SignatureFailure.MALFORMED_DATA_ID, "data.id missing from the query")
        return None
    if not _RESOURCE_ID.fullmatch(data_id):
        raise _reject(SignatureFailure.MALFORMED_DATA_ID, "query data.id is not a resource id")
    return data_id


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = jsonsafe.loads(raw)
    except jsonsafe.MalformedJson as exc:
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_body", "the body must be a JSON object")
    return body


def _action(body: Mapping[str, Any]) -> str:
    action = body.get("action")
    if not isinstance(action, str):
        actions = body.get("actions")  # chargebacks: "actions": ["changed_case_status"]
        action = next((a for a in actions if isinstance(a, str)), "") if isinstance(
            actions, list) else ""
    return action[:64]


def parse(query: Mapping[str, str], headers: Mapping[str, str], body: Mapping[str, Any],
          ts: str) -> Notification | None:
    """The notification a verified request announces; None for a topic this project ignores."""
    wire = query.get("type") or (body.get("type") if isinstance(body.get("type"), str) else "")
    topic = webhooks.from_wire(str(wire))
    if topic is None:
        return None
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    assert isinstance(data, dict)
    query_id = query.get("data.id")
    body_id = data.get("id")
    if query_id is not None and body_id is not None and \
            str(body_id).lower() != query_id.lower():
        raise _reject(SignatureFailure.DATA_ID_MISMATCH, "body data.id differs from the query")
    request_id = headers.get("x-request-id", "")
    signed_key = "|".join(["signed", (query_id or "").lower(), request_id, ts])
    if query_id is not None:
        resource, resource_signed = query_id, True
    elif topic == webhooks.FRAUD_ALERT:
        # Mercado Pago's documented fraud alert has no data.id: the payment is named only in
        # the body. Fulfil then records the alert only for a payment of one of our orders.
        payment_id = str(data.get("payment_id") or "")
        if not _PAYMENT_ID.fullmatch(payment_id):
            raise ApiError(400, "malformed_notification", "data.payment_id is required")
        resource, resource_signed = payment_id, False
    else:  # unreachable: check_query_id requires data.id for these topics
        raise ApiError(400, "malformed_notification", "data.id is required")
    return Notification(topic=topic, resource_id=resource, action=_action(body),
                        request_id=request_id[:128], signed_key=signed_key,
                        resource_signed=resource_signed)


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

    def receive(self, query: Mapping[str, str], headers: Mapping[str, str], raw: bytes) -> str:
        """Verify, parse and queue one request: ``queued``, ``duplicate`` or ``ignored``."""
        if is_legacy_ipn(query):
            # Mercado Pago retries a non-2xx for days; what IPN announces, Webhooks (and
            # reconcile) announce too.
            log.info("ipn_ignored", "legacy IPN notification ignored",
                     ipn_topic=query.get("topic", "")[:64])
            return "ignored"
        data_id = check_query_id(query)
        ts = self.verify(query, headers, data_id)
        note = parse(query, headers, parse_body(raw), ts)
        if note is None:
            log.info("notification_ignored", "topic not handled")
            return "ignored"
        log.bind(topic=note.topic, resource_id=note.resource_id)
        created = self.enqueue(note)
        log.info("notification_queued" if created else "notification_duplicate",
                 "notification queued" if created else "notification already queued",
                 action=note.action)
        return "queued" if created else "duplicate"

    def verify(self, query: Mapping[str, str], headers: Mapping[str, str],
               data_id: str | None = None) -> str:
        """Raise 401 unless the x-signature is valid for the query's data.id; the signed ts."""
        result = webhooks.verify(
            headers.get("x-signature"),
            headers.get("x-request-id"),
            data_id if data_id is not None else query.get("data.id"),
            self.secrets(),
            tolerance_seconds=self._settings.signature_tolerance_seconds,
            now=self._clock(),
        )
        if not result.ok:
            assert result.failure is not None
            raise _reject(result.failure, "notification signature rejected")
        if result.secret_index == 1:
            log.info("signature_previous_secret", "accepted with the previous webhook secret")
        return result.ts

    def enqueue(self, note: Notification) -> bool:
        if not self._settings.fulfill_url:
            raise ApiError(503, "not_configured", "FULFILL_URL is not configured")
        task = FulfilTask.for_notification(note.topic, note.resource_id, note.action,
                                           note.request_id, note.key(), note.resource_signed)
        try:
            return fulfil_task.enqueue(self._settings, self._queue(), task)
        except EnqueueError as exc:
            log.error("enqueue_failed", "could not queue the notification", error=str(exc))
            raise ApiError(503, "enqueue_failed", "could not queue the notification; retry",
                           headers={"Retry-After": "5"}) from exc
