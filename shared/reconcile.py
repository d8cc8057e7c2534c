"""Reconcile: find what notifications missed and send it through the same fulfil path.

Two sweeps, both bounded per run and resumable through cursors in ``reconcile_state``:
1. payments Mercado Pago updated since the last run (``/v1/payments/search`` on
   ``date_last_updated``), compared with ``payments/{id}`` in Firestore;
2. this project's orders still ``pending`` past a threshold, oldest first, each looked up by
   ``external_reference``.
Anything whose state differs from Firestore becomes a fulfil task named from (payment, state):
running reconcile twice, or beside a late notification, enqueues nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from shared import log
from shared.config import Settings
from shared.expiry import expire, live_pending_orders, should_expire
from shared.handoff import hand_over
from shared.mercadopago.gateway import MercadoPagoGateway
from shared.mercadopago.models import PaymentSnapshot
from shared.store.client import CALL_TIMEOUT, RETRY
from shared.store.orders import ORDERS, PAYMENTS
from shared.store.outbox import Outbox
from shared.tasks import HttpTask, TaskQueue

STATE = "reconcile_state"
PAGE = 50
OVERLAP = timedelta(minutes=1)
MAX_LOOKBACK = timedelta(days=30)


@dataclass
class ReconcileReport:
    window_start: str = ""
    window_end: str = ""
    payments_seen: int = 0
    orders_checked: int = 0
    enqueued: int = 0
    already_queued: int = 0
    truncated: bool = False
    orders_expired: int = 0
    corrected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def fulfil_task_id(snap: PaymentSnapshot) -> str:
    key = f"{snap.id}|{snap.status}|{snap.status_detail}|{snap.date_last_updated}"
    return "r-" + hashlib.sha256(key.encode()).hexdigest()


def mp_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class Reconciler:
    def __init__(self, settings: Settings, db: firestore.Client,
                 gateway: Callable[[], MercadoPagoGateway], queue: Callable[[], TaskQueue],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._settings = settings
        self._db = db
        self._gateway = gateway
        self._queue = queue
        self._clock = clock

    def run(self, since: timedelta | None = None) -> ReconcileReport:
        now = self._clock()
        report = ReconcileReport()
        budget = self._settings.reconcile_max_items
        budget -= self._sweep_updated_payments(now, since, budget, report)
        if budget > 0:
            self._sweep_pending_orders(now, budget, report)
        else:
            report.truncated = True
        log.info("reconcile_finished", "reconcile run finished", **{
            k: v for k, v in report.as_dict().items() if k != "corrected"})
        for payment_id in report.corrected:
            log.warning("reconcile_corrected", "Firestore disagreed with Mercado Pago",
                        payment_id=payment_id)
        return report

    # -- sweep 1: payments updated in the window ------------------------------------------
    def _sweep_updated_payments(self, now: datetime, since: timedelta | None, budget: int,
                                report: ReconcileReport) -> int:
        cursor_ref = self._db.collection(STATE).document("payments")
        cursor = (cursor_ref.get(retry=RETRY, timeout=CALL_TIMEOUT).to_dict() or {})
        start = self._window_start(now, since, cursor)
        report.window_start, report.window_end = mp_time(start), mp_time(now)
        used = 0
        offset = 0
        total = 0
        last_seen: str | None = None
        while used < budget:
            page, total = self._gateway().search_payments({
                "range": "date_last_updated", "begin_date": mp_time(start),
                "end_date": mp_time(now), "sort": "date_last_updated", "criteria": "asc",
                "limit": min(PAGE, budget - used), "offset": offset})
            for snap in page:
                used += 1
                report.payments_seen += 1
                last_seen = snap.date_last_updated
                self._compare_and_enqueue(snap, report)
            offset += len(page)
            if not page or offset >= total:
                break
        # Resume from the last payment seen when the budget ran out, else from this run's end.
        if used >= budget and offset < total:
            report.truncated = True
        resume = _parse(last_seen) if report.truncated and last_seen else now
        cursor_ref.set({"resume_from": resume, "truncated": report.truncated, "updated_at": now},
                       retry=RETRY, timeout=CALL_TIMEOUT)
        return used

    def _window_start(self, now: datetime, since: timedelta | None,
                      cursor: dict[str, Any]) -> datetime:
        """Where this run's search begins.

        An explicit ``since`` wins. Otherwise the previous run's cursor: exactly where a
        truncated run stopped (so the next run makes progress), or a minute before where a
        complete run ended (Mercado Pago's search may lag; re-seeing a payment is harmless).
        Without a cursor, the configured window. Never further back than ``MAX_LOOKBACK``.
        """
        if since is not None:
            start = now - since
        elif isinstance(cursor.get("resume_from"), datetime):
            start = cursor["resume_from"]
            if not cursor.get("truncated"):
                start -= OVERLAP
        else:
            start = now - timedelta(minutes=self._settings.reconcile_window_minutes)
        return max(start, now - MAX_LOOKBACK)

    # -- sweep 2: orders still pending past the threshold ---------------------------------
    def _sweep_pending_orders(self, now: datetime, budget: int, report: ReconcileReport) -> None:
        threshold = now - timedelta(minutes=self._settings.reconcile_pending_after_minutes)
        cursor_ref = self._db.collection(STATE).document("pending_orders")
        after = (cursor_ref.get(retry=RETRY, timeout=CALL_TIMEOUT).to_dict() or {}).get("after")
        query = (self._db.collection(ORDERS)
                 .where(filter=firestore.FieldFilter("status", "==", "pending"))
                 .where(filter=firestore.FieldFilter("created_at", "<=", threshold))
                 .order_by("created_at").limit(budget))
        if after is not None:
            query = query.start_after({"created_at": after})
        # First the orders a lost notification leaves behind (shared/expiry.py): however many
        # abandoned orders exist, these are checked in this run.
        live = live_pending_orders(self._db, threshold, max(1, budget // 2))
        for order, _read_at in live:
            self._check_order(order, report)
        seen = {order["order_id"] for order, _ in live}
        query = query.limit(max(1, budget - len(live)))
        docs = list(query.stream(retry=RETRY, timeout=CALL_TIMEOUT))
        orders = [d.to_dict() or {} for d in docs]
        for doc, order in zip(docs, orders, strict=True):
            if order["order_id"] in seen:
                continue
            page = self._check_order(order, report)
            self._expire_if_abandoned(order, page, doc.update_time, now, report)
        # Wrap around once the oldest pending orders have all been looked at.
        full = len(orders) >= max(1, budget - len(live))
        next_after = orders[-1]["created_at"] if full else None
        if full:
            report.truncated = True
        cursor_ref.set({"after": next_after, "updated_at": now}, retry=RETRY,
                       timeout=CALL_TIMEOUT)

    def _check_order(self, order: dict[str, Any], report: ReconcileReport) -> list[PaymentSnapshot]:
        report.orders_checked += 1
        page, _ = self._gateway().search_payments({
            "external_reference": order["order_id"], "sort": "date_last_updated",
            "criteria": "desc", "limit": 10})
        for snap in page:
            self._compare_and_enqueue(snap, report)
        return page

    def _expire_if_abandoned(self, order: dict[str, Any], page: list[PaymentSnapshot],
                             read_at: Any, now: datetime, report: ReconcileReport) -> None:
        if not should_expire(order, page, now, self._settings):
            return
        if expire(self._db, order, read_at, now, ttl_from_creation=True):
            report.orders_expired += 1
            hand_over(self._settings, self._queue(), Outbox(self._db), self._db,
                      str(order["order_id"]))

    # -- both ------------------------------------------------------------------------------
    def _compare_and_enqueue(self, snap: PaymentSnapshot, report: ReconcileReport) -> None:
        if not snap.external_reference:
            return
        stored = self._db.collection(PAYMENTS).document(snap.id).get(
            retry=RETRY, timeout=CALL_TIMEOUT).to_dict()
        if stored and (stored.get("status"), stored.get("status_detail"),
                       stored.get("date_last_updated")) == (
                snap.status, snap.status_detail, snap.date_last_updated):
            return
        s = self._settings
        task_id = fulfil_task_id(snap)
        body = json.dumps({"topic": "payment", "resource_id": snap.id,
                           "notification_id": task_id[2:], "action": "reconcile",
                           "request_id": ""}, separators=(",", ":")).encode()
        created = self._queue().enqueue(HttpTask(
            queue=s.fulfill_queue, task_id=task_id, url=s.fulfill_url, body=body,
            headers={"Content-Type": "application/json"},
            oidc_service_account=s.tasks_service_account,
            oidc_audience=s.fulfill_auth_audience or s.fulfill_url,
            dispatch_deadline_seconds=60))
        if created:
            report.enqueued += 1
            report.corrected.append(snap.id)
        else:
            report.already_queued += 1


def _parse(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return datetime.now(UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
