"""fulfill's use case: fetch the canonical payment, apply it to its order, fulfil once.

A fulfil task names a resource; its body is never trusted for state. The payment is fetched
from Mercado Pago and applied with :meth:`OrderRepository.apply_payment` (monotonic, one
winner per transition). The effects of a fulfilment (the shop's hooks, the signed
``order.paid`` event) run after the transition is committed, under a lease on the fulfilment
marker; a failure leaves the marker pending and the task is retried to finish them.

Merchant events: the apply commit stages the transition's events and lists them on the order
as unsent (``shared.domain.unsent_events``), so a payment task sends the events it staged and
those the order (as it read it) still lists, oldest first, without querying the outbox, then
marks them all sent in one commit. The outbox is queried where the list may not say it all:
a hand-over, a retry (it repairs whatever an earlier attempt left) and orders written before
the list existed. A payment notification's processed record rides the apply commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.adapters import hooks
from shared.adapters.mercadopago import topics
from shared.adapters.mercadopago.errors import ProviderError, ResourceNotFound
from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store.client import UNAVAILABLE
from shared.adapters.store.orders import ApplyResult, Contention, OrderNotFound
from shared.adapters.tasks import EnqueueError, HttpTask, task_id
from shared.domain import events, unsent_events
from shared.domain.anomalies import ORPHAN_PAYMENT, is_order_id
from shared.domain.records import record
from shared.platform import log
from shared.platform.config import Settings
from shared.platform.secrets import SecretError, reader
from shared.usecases import fraud_alerts
from shared.usecases.fulfil_task import HANDLED_TOPICS, ORDER_HANDOFF, FulfilTask
from shared.usecases.ports import FraudAlertStore, Ledger, OrderStore, Outbox, PaymentGateway, TaskQueue


@record(frozen=True)
class Attempt:
    """Where this delivery stands in the queue's retry budget."""

    number: int          # 1 for the first delivery
    max_attempts: int

    @property
    def is_last(self) -> bool:
        return self.number >= self.max_attempts


class Handled(StrEnum):
    """Where a delivery leaves its task (fulfill's entry point answers it with a status)."""

    DONE = "done"    # finished (applied, ignored, dead-lettered): no more deliveries
    RETRY = "retry"  # not finished: the queue delivers it again


DONE, RETRY = Handled.DONE, Handled.RETRY


@record
class Outcome:
    handled: Handled
    result: str  # what happened, as the answer's ``result`` says it
    detail: dict[str, Any] = field(default_factory=dict)
    recorded: bool = False  # the notification's processed record is written already

    @property
    def done(self) -> bool:
        return self.handled is Handled.DONE

    def body(self) -> dict[str, Any]:
        return {"result": self.result, **self.detail}


class Fulfilment:
    def __init__(
        self,
        settings: Settings,
        orders: OrderStore,
        ledger: Ledger,
        gateway: Callable[[], PaymentGateway],
        queue: Callable[[], TaskQueue],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        outbox: Outbox | None = None,
        alerts: FraudAlertStore | None = None,
        handoff: bool = False,
    ) -> None:
        self._settings = settings
        self._alerts = alerts
        self._handoff = handoff  # not fulfill (mpctl): hand events and effects to fulfill
        self._outbox = outbox
        self._orders = orders
        self._ledger = ledger
        self._gateway = gateway
        self._queue = queue
        self._clock = clock

    def handle(self, task: FulfilTask, attempt: Attempt) -> Outcome:
        if task.topic not in HANDLED_TOPICS:
            log.info("task_ignored", "topic not handled", topic=task.topic)
            return Outcome(DONE, "ignored")
        try:
            # No processed-id pre-read: named tasks already stop redeliveries, and applying a
            # fetched state twice changes nothing. The ids are recorded after the work.
            outcome = self._route(task, attempt)
        except UNAVAILABLE as exc:
            return self._failure(task, attempt, "storage_unavailable", exc)
        except Contention as exc:
            return self._failure(task, attempt, "contention", exc)
        except ProviderError as exc:
            return self._failure(task, attempt, "provider_unavailable", exc)
        except SecretError as exc:
            log.error("secret_missing", "a secret fulfill needs is unavailable")
            return self._failure(task, attempt, "not_configured", exc)
        except EnqueueError as exc:
            return self._failure(task, attempt, "enqueue_failed", exc)
        return outcome

    def _route(self, task: FulfilTask, attempt: Attempt) -> Outcome:
        # Every path starts by building the gateway, which reads the access token: a missing
        # one raises SecretError before any work (fail closed).
        if task.topic == topics.PAYMENT:
            outcome = self.sync_payment(task.resource_id, attempt, task, record=True)
        elif task.topic == topics.FRAUD_ALERT:
            outcome = self._fraud_alert(task, attempt)
        elif task.topic == ORDER_HANDOFF:
            outcome = self._finish_order(task, attempt)
        else:
            outcome = self._sync_container(task, attempt)
        if outcome.done and task.notification_id and not outcome.recorded:
            self._ledger.mark_processed(task.notification_id, {
                "topic": task.topic, "resource_id": task.resource_id,
                "order_id": outcome.detail.get("order_id", "")}, self._clock())
        return outcome

    def _sync_container(self, task: FulfilTask, attempt: Attempt) -> Outcome:
        """A merchant order or a chargeback: apply the canonical state of each payment in it."""
        try:
            if task.topic == "merchant_order":
                payment_ids = self._gateway().get_merchant_order(task.resource_id).payment_ids
            else:
                payment_ids = self._gateway().get_chargeback(task.resource_id).payment_ids
        except ResourceNotFound:
            return self._not_yet_known(task, attempt, f"unknown_{task.topic}",
                                       f"Mercado Pago does not know this {task.topic}")
        results = [self.sync_payment(pid, attempt, task) for pid in payment_ids]
        failed = [r for r in results if not r.done]
        if failed:
            return failed[0]
        return Outcome(DONE, "applied" if results else "nothing_to_do",
                       {"payments": len(results)})

    def _fraud_alert(self, task: FulfilTask, attempt: Attempt) -> Outcome:
        """Record a fraud alert on the order of the payment it names (see shared.usecases.fraud_alerts).

        A payment id taken from the unsigned body is trusted only as far as Mercado Pago's own
        record of that payment points at one of this project's orders."""
        try:
            payment = self._gateway().get_payment(task.resource_id)
        except ResourceNotFound:
            if not task.resource_signed:
                log.warning("fraud_alert_unknown_payment", "fraud alert names an unknown payment")
                return Outcome(DONE, "ignored_unknown_payment")
            return self._not_yet_known(task, attempt, "unknown_payment",
                                       "Mercado Pago does not know this payment")
        order_id = payment.external_reference
        log.bind(payment_id=payment.id, order_id=order_id)
        if self._alerts is None or not order_id:
            log.info("payment_foreign", "fraud alert for a payment that is not ours")
            return Outcome(DONE, "ignored_foreign_payment")
        try:
            recorded = self._alerts.record(order_id, payment.id, self._clock())
        except OrderNotFound:
            if not task.resource_signed:
                log.info("payment_foreign", "fraud alert for a payment that is not ours")
                return Outcome(DONE, "ignored_foreign_payment")
            return self._not_yet_known(task, attempt, "order_not_found",
                                       "no order matches the payment's external_reference")
        log.alert("fraud_alert", f"Mercado Pago raised a fraud alert on order {order_id}: do "
                  "not deliver it; cancel or refund it with mpctl, or clear a false alert with "
                  "mpctl order clear-fraud-alert", new=recorded.new)
        self.flush_events(order_id)
        return Outcome(DONE, "applied", {"order_id": order_id, "fraud_alert": True})

    def _not_yet_known(self, task: FulfilTask, attempt: Attempt, reason: str,
                       detail: str) -> Outcome:
        """Something Mercado Pago or Firestore does not know (yet): retry a few times, then
        keep it as a dead letter and stop the retries."""
        if attempt.number < self._settings.unknown_payment_max_attempts and not attempt.is_last:
            log.warning(reason, detail, attempt=attempt.number)
            return Outcome(RETRY, f"{reason}_retrying")
        return self._dead_letter(task, attempt, reason, detail)

    def sync_payment(self, payment_id: str, attempt: Attempt, task: FulfilTask,
                     record: bool = False) -> Outcome:
        """Fetch one payment from Mercado Pago and apply it to its order (the one fulfil path).
        ``record``: the apply commit, if any, carries the task's processed record."""
        try:
            payment = self._gateway().get_payment(payment_id)
        except ResourceNotFound:
            return self._not_yet_known(task, attempt, "unknown_payment",
                                       "Mercado Pago does not know this payment")
        log.bind(payment_id=payment.id, order_id=payment.external_reference)
        if not payment.external_reference:
            log.info("payment_foreign", "payment has no external_reference; not ours")
            return Outcome(DONE, "ignored_foreign_payment")
        now = self._clock()
        processed = None
        if record and task.notification_id:
            processed = self._ledger.processed_record(task.notification_id, {
                "topic": task.topic, "resource_id": task.resource_id,
                "order_id": payment.external_reference}, now)
        try:
            applied = self._orders.apply_payment(payment, now, processed)
        except OrderNotFound:
            if is_order_id(payment.external_reference):
                return self._orphan(payment, now)
            return self._not_yet_known(task, attempt, "order_not_found",
                                       "no order matches the payment's external_reference")
        log.info("payment_applied", "payment state applied", payment_status=payment.status,
                 payment_status_detail=payment.status_detail, order_status=applied.after.value,
                 order_status_before=applied.before.value)
        if applied.decision.anomaly is not None:
            log.alert(applied.decision.anomaly.value,
                      "payment does not match its order; not fulfilled",
                      payment_amount=str(payment.amount), payment_currency=payment.currency)
        fulfilled = applied.decision.fulfil
        if applied.fulfilment_due:
            fulfilled = self._run_effects(payment.external_reference, payment, applied.order,
                                          fresh=applied.decision.fulfil) or fulfilled
        self._send_events(applied, look_all=attempt.number > 1 or task.topic == ORDER_HANDOFF)
        return Outcome(DONE, "applied", {"order_id": payment.external_reference,
                                        "order_status": applied.after.value,
                                        "payment_status": payment.status,
                                        "fulfilled": fulfilled}, recorded=applied.processed)

    def _orphan(self, payment: PaymentSnapshot, now: datetime) -> Outcome:
        """Our order-id form, but no such order: keep it for an operator, never drop it."""
        if self._orders.record_orphan(payment, now):
            log.alert(ORPHAN_PAYMENT, "payment names an order this project does not have",
                      payment_status=payment.status, payment_amount=str(payment.amount),
                      payment_currency=payment.currency)
        return Outcome(DONE, ORPHAN_PAYMENT, {"payment_status": payment.status})

    def _finish_order(self, task: FulfilTask, attempt: Attempt) -> Outcome:
        """What another process (mpctl) left for an order: its events and its fulfilment."""
        order = self._orders.get(task.resource_id)
        if order is None:
            return Outcome(DONE, "ignored", {"reason": "order_not_found"})
        payment_id = order.get("paid_by_payment_id") or order.get("last_payment_id")
        if not payment_id:
            self.flush_events(task.resource_id)
            return Outcome(DONE, "applied", {"order_id": task.resource_id})
        # Re-applying the payment runs a pending fulfilment's hooks and flushes the events.
        outcome = self.sync_payment(str(payment_id), attempt, task)
        if outcome.done and self._orders.claim_fulfilment(
                task.resource_id, self._clock()) is not None:
            # No shop hooks here: a fulfilment another process left has nothing to run.
            self._orders.finish_fulfilment(task.resource_id, self._clock(), [])
        return outcome

    def flush_events(self, order_id: str) -> None:
        """Hand all the order's pending merchant events (an outbox query) to Cloud Tasks
        (named: at most once each); a hand-over process (mpctl) hands the order to fulfill."""
        if self._outbox is None:
            return
        if self._handoff:
            from shared.usecases.handoff import hand_over

            hand_over(self._settings, self._queue(), self._outbox, self._orders, order_id)
            return
        if self._settings.merchant_webhook_url:
            self._hand_over(order_id, self._outbox.pending(order_id), [])

    def _send_events(self, applied: ApplyResult, look_all: bool) -> None:
        """After an apply: the events it staged and those the order still listed as unsent
        (read by id), oldest first; the whole outbox when ``look_all``, on a hand-over or when
        the order predates the list."""
        if self._handoff or look_all or unsent_events.untracked(applied.order):
            self.flush_events(applied.order_id)
            return
        if self._outbox is None or not self._settings.merchant_webhook_url:
            return
        staged = {str(e["event_id"]) for e in applied.staged}
        earlier = [i for i in unsent_events.listed(applied.order) if i not in staged]
        found = self._outbox.unsent(earlier) if earlier else []
        still = {str(e["event_id"]) for e in found}
        self._hand_over(applied.order_id, [*found, *applied.staged],
                        [i for i in earlier if i not in still])

    def _hand_over(self, order_id: str, pending: list[dict[str, Any]],
                   forget: list[str]) -> None:
        """Queue each event (in order), then mark them all sent in one commit."""
        assert self._outbox is not None
        for event in pending:
            self._send_event(event)
        if pending or forget:
            self._outbox.mark_sent(order_id, [str(e["event_id"]) for e in pending],
                                   self._clock(), forget)

    def _run_effects(self, order_id: str, payment: PaymentSnapshot, order: dict[str, Any],
                     fresh: bool) -> bool:
        """Run the shop's fulfilment hooks once the marker's lease is ours."""
        if fraud_alerts.withheld(order):
            log.warning("fulfilment_withheld", "a fraud alert stands on the order: the shop's "
                        "hooks wait until it is cleared")
            return False
        now = self._clock()
        if fresh:
            marker: dict[str, Any] = {}
        else:
            claimed = self._orders.claim_fulfilment(order_id, now)
            if claimed is None:
                return False
            marker = claimed
        paid = hooks.PaidOrder(
            fulfilment_id=f"ful_{order_id}", order_id=order_id,
            payment_id=str(marker.get("payment_id") or payment.id),
            amount=Decimal(str(marker.get("amount") or order.get("amount"))),
            currency=str(marker.get("currency") or order.get("currency")),
            items=tuple(order.get("items", [])))
        effects: list[str] = []
        for hook in hooks.configured(self._settings.order_paid_hooks):
            hook(paid)
            effects.append(f"hook:{getattr(hook, '__name__', 'hook')}")
        self._orders.finish_fulfilment(order_id, self._clock(), effects)
        log.info("order_fulfilled", "order fulfilled", effects=effects)
        return True

    def _send_event(self, event: dict[str, Any]) -> None:
        secret = reader(self._settings).require(self._settings.merchant_webhook_secret)
        created_at = event.get("created_at")
        created = int(created_at.timestamp()) if isinstance(created_at, datetime) else int(
            self._clock().timestamp())
        message = events.MerchantEvent(
            id=str(event["event_id"]), type=str(event["type"]), order_id=str(event["order_id"]),
            payment_id=str(event["payment_id"]), amount=Decimal(str(event["amount"])),
            currency=str(event["currency"]), created=created,
            refunded_amount=Decimal(str(event["refunded_amount"]))
            if event.get("refunded_amount") else None,
            status_detail=str(event["status_detail"]) if event.get("status_detail") else None)
        body = message.body()
        created_task = self._queue().enqueue(HttpTask(
            queue=self._settings.merchant_events_queue,
            task_id=task_id("e", message.id),
            url=self._settings.merchant_webhook_url,
            body=body,
            headers={"Content-Type": "application/json", "X-Event-Id": message.id,
                     "X-Event-Type": message.type,
                     "X-Signature": events.signature(secret, created, body)},
            dispatch_deadline_seconds=30,
        ))
        log.info("merchant_event_enqueued" if created_task else "merchant_event_duplicate",
                 "merchant event queued", event_id=message.id, event_type=message.type)

    def reject_malformed(self, raw: bytes, attempt: Attempt) -> Outcome:
        """A task body that can never become valid: keep it for an operator, stop the retries."""
        letter = "malformed-" + hashlib.sha256(raw).hexdigest()[:32]
        try:
            self._ledger.record_dead_letter(
                letter, "malformed_task", {"raw": raw[:2048].decode("utf-8", "replace")},
                attempt.number, self._clock())
        except UNAVAILABLE:
            return Outcome(RETRY, "storage_unavailable")
        log.error("dead_letter_recorded", "malformed fulfil task", reason="malformed_task")
        return Outcome(DONE, "dead_lettered", {"reason": "malformed_task"})

    def _dead_letter(self, task: FulfilTask, attempt: Attempt, reason: str, detail: str) -> Outcome:
        letter = task.notification_id or f"{task.topic}-{task.resource_id}"
        self._ledger.record_dead_letter(letter, reason, task.as_dict(), attempt.number,
                                        self._clock(), detail)
        log.error("dead_letter_recorded", detail, reason=reason, attempt=attempt.number)
        return Outcome(DONE, "dead_lettered", {"reason": reason})

    def _failure(self, task: FulfilTask, attempt: Attempt, reason: str, exc: Exception) -> Outcome:
        log.error("fulfill_failed", f"fulfil attempt failed: {reason}", reason=reason,
                  attempt=attempt.number, error=type(exc).__name__, last_attempt=attempt.is_last)
        if attempt.is_last:
            try:
                return self._dead_letter(task, attempt, reason, type(exc).__name__)
            except UNAVAILABLE:
                log.alert("dead_letter_lost", "last attempt failed and the dead letter could "
                          "not be written", reason=reason, task=task.as_dict())
        return Outcome(RETRY, reason)
