"""ipn_webhook's use case: verify a Mercado Pago notification and queue it for fulfil.

Cheap on purpose: no Firestore, no Mercado Pago SDK. What the signature covers is the query
``data.id``, the ``x-request-id`` header and the ``ts`` (never the body, ``type`` or
``action``), so the task is named from exactly those: a redelivery of one signed request, or
a replay of it with another body, finds its task already there (``duplicate``), while two
genuine notifications (each with its own ``x-request-id``), such as successive updates of one
merchant order, are two tasks. What a request means on Mercado Pago's wire (topics, the
signature, where the resource is named) is :mod:`shared.adapters.mercadopago.webhooks`; this
module turns its refusals into answers and queues the task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.adapters.mercadopago import webhooks
from shared.adapters.mercadopago.webhooks import SignatureFailure
from shared.adapters.tasks import EnqueueError
from shared.domain.errors import (
    EnqueueFailed,
    InvalidSignature,
    MalformedBody,
    MalformedJson,
    MalformedNotification,
    NotConfigured,
)
from shared.platform import jsonsafe, log
from shared.platform.config import Settings
from shared.platform.secrets import SecretError, reader
from shared.usecases import fulfil_task
from shared.usecases.fulfil_task import FulfilTask
from shared.usecases.ports import TaskQueue


def _reject(failure: SignatureFailure, message: str) -> InvalidSignature:
    log.warning("signature_rejected", message, reason=failure.value)
    return InvalidSignature("the notification signature is not valid",
                            detail={"reason": failure.value})


def check_query_id(query: Mapping[str, str]) -> str | None:
    """The query ``data.id`` (:func:`webhooks.check_query_id`); 401 when it cannot be signed."""
    try:
        return webhooks.check_query_id(query)
    except webhooks.Rejected as exc:
        raise _reject(exc.failure, exc.message) from None


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = jsonsafe.loads(raw)
    except jsonsafe.MalformedJson as exc:
        raise MalformedJson("the body is not valid JSON") from exc
    if not isinstance(body, dict):
        raise MalformedBody("the body must be a JSON object")
    return body


def parse(query: Mapping[str, str], headers: Mapping[str, str], body: Mapping[str, Any],
          ts: str) -> webhooks.Notification | None:
    """The notification a verified request announces (:func:`webhooks.parse_notification`);
    None for a topic this project ignores; 401 or 400 for one that names no resource."""
    try:
        return webhooks.parse_notification(query, headers, body, ts)
    except webhooks.Rejected as exc:
        raise _reject(exc.failure, exc.message) from None
    except webhooks.MalformedNotification as exc:
        raise MalformedNotification(str(exc)) from None


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
                value = reader(self._settings).get(ref)
            except SecretError:
                log.error("secret_unavailable", f"{ref.name} could not be read")
                value = None
            if value:
                found.append(value)
        return found

    def receive(self, query: Mapping[str, str], headers: Mapping[str, str], raw: bytes) -> str:
        """Verify, parse and queue one request: ``queued``, ``duplicate`` or ``ignored``."""
        if webhooks.is_legacy_ipn(query):
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

    def enqueue(self, note: webhooks.Notification) -> bool:
        if not self._settings.fulfill_url:
            raise NotConfigured("FULFILL_URL is not configured")
        task = FulfilTask.for_notification(note.topic, note.resource_id, note.action,
                                           note.request_id, note.key(), note.resource_signed)
        try:
            return fulfil_task.enqueue(self._settings, self._queue(), task)
        except EnqueueError as exc:
            log.error("enqueue_failed", "could not queue the notification", error=str(exc))
            raise EnqueueFailed("could not queue the notification; retry") from exc
