"""Reconcile: find what notifications missed and send it through the same fulfil path.

A run is bounded by time (``RECONCILE_TIME_BUDGET_SECONDS``, well under the function's request
timeout) and, optionally, by a number of payments (``RECONCILE_MAX_ITEMS``, 0 = none). It has
two sweeps, each resumable through a cursor in ``reconcile_state``:

1. payments Mercado Pago updated in a window (``/v1/payments/search`` with
   ``range=date_last_updated``, oldest first), compared with ``payments/{id}`` in Firestore.
   Paging is by key: each page starts at the last ``date_last_updated`` seen, skipping the
   payments already seen at exactly that instant, so a run never re-reads what it covered and
   the next run resumes exactly there. The scheduled run follows its cursor; an explicit
   ``since`` (``mpctl reconcile --since``) opens a window of its own and later ``since`` runs
   continue it until it is covered.
2. this project's orders still ``pending`` past a threshold, oldest first, each looked up by
   ``external_reference``. ``RECONCILE_PENDING_SHARE_PERCENT`` of the budget is kept for it, so
   a backlog of payments never starves it.

Anything whose state differs from Firestore becomes a fulfil task named from (payment, state):
running reconcile twice, or beside a late notification, enqueues nothing twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.mercadopago.conventions import mp_datetime, parse_mp_datetime
from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.domain.records import record
from shared.platform import log
from shared.platform.config import Settings
from shared.usecases import fulfil_task
from shared.usecases.expiry import should_expire
from shared.usecases.handoff import hand_over
from shared.usecases.ports import (
    FulfilmentMarkers,
    Outbox,
    PaymentGateway,
    ReconcileStore,
    TaskQueue,
)

PAGE = 100
SAVE_EVERY = 2.0  # seconds between cursor saves within a run
OVERLAP = timedelta(minutes=1)
MAX_LOOKBACK = timedelta(days=30)
# A payment found for a pending order was created after the order; a day of slack covers clocks.
ORDER_SEARCH_SLACK = timedelta(days=1)
# Pending orders with a live attempt looked at before the oldest-first pass (shared/usecases/expiry.py).
LIVE_FIRST = 100


@record
class ReconcileReport:
    mode: str = "scheduled"  # or "window" (an explicit ``since``)
    window_start: str = ""
    window_end: str = ""
    covered_until: str = ""
    window_done: bool = False
    continued: bool = False
    payments_seen: int = 0
    payments_remaining: int = 0
    orders_checked: int = 0
    enqueued: int = 0
    already_queued: int = 0
    truncated: bool = False
    pages: int = 0
    elapsed_seconds: float = 0.0
    orders_expired: int = 0
    corrected: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@record
class Cursor:
    """Where a sweep resumes: the last ``date_last_updated`` covered and the payments already
    seen at exactly that instant (Mercado Pago's timestamps have millisecond precision)."""

    resume_from: datetime
    seen_at_resume: set[str] = field(default_factory=set)


class Reconciler:
    def __init__(self, settings: Settings, store: ReconcileStore,
                 gateway: Callable[[], PaymentGateway], queue: Callable[[], TaskQueue],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 monotonic: Callable[[], float] = time.monotonic, *, outbox: Outbox,
                 markers: FulfilmentMarkers) -> None:
        self._settings = settings
        self._store = store
        self._gateway = gateway
        self._queue = queue
        self._clock = clock
        self._monotonic = monotonic
        self._outbox = outbox  # an expired order's event, handed over to fulfill
        self._markers = markers

    @classmethod
    def on_firestore(cls, settings: Settings, db: Any, gateway: Callable[[], PaymentGateway],
                     queue: Callable[[], TaskQueue],
                     clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                     monotonic: Callable[[], float] = time.monotonic) -> Reconciler:
        """The reconciler on the Firestore adapters of ``db``."""
        from shared.adapters.store.orders import OrderRepository
        from shared.adapters.store.outbox import Outbox as FirestoreOutbox
        from shared.adapters.store.reconcile_store import ReconcileStore as FirestoreStore

        return cls(settings, FirestoreStore(db), gateway, queue, clock, monotonic,
                   outbox=FirestoreOutbox(db), markers=OrderRepository(db))

    def run(self, since: timedelta | None = None, *, new_window: bool = False) -> ReconcileReport:
        """One bounded run. ``since``: cover the window ``[now - since, now]`` (continuing an
        open one that contains its start unless ``new_window``); else the scheduled cursor."""
        started = self._monotonic()
        s = self._settings
        budget = float(s.reconcile_time_budget_seconds)
        payments_deadline = started + budget * (100 - s.reconcile_pending_share_percent) / 100
        now = self._clock()
        report = ReconcileReport()
        if since is None:
            done = self._scheduled_sweep(now, payments_deadline, report)
        else:
            done = self._window_sweep(now, since, new_window, payments_deadline, report)
        pending_done = self._sweep_pending_orders(now, started + budget, report)
        report.truncated = not (done and pending_done)
        report.elapsed_seconds = round(self._monotonic() - started, 3)
        log.info("reconcile_finished", "reconcile run finished", **{
            k: v for k, v in report.as_dict().items() if k != "corrected"})
        for payment_id in report.corrected:
            log.warning("reconcile_corrected", "Firestore disagreed with Mercado Pago",
                        payment_id=payment_id)
        return report

    # -- sweep 1: payments updated in a window ----------------------------------------------
    def _scheduled_sweep(self, now: datetime, deadline: float, report: ReconcileReport) -> bool:
        state = self._store.cursor("payments")
        cursor = self._scheduled_cursor(now, state)
        report.window_start, report.window_end = mp_datetime(cursor.resume_from), mp_datetime(now)

        def save(c: Cursor, done: bool) -> None:
            # A covered window resumes from its end (minus OVERLAP, as Mercado Pago's search
            # may lag); an uncovered one exactly where it stopped.
            self._store.save_cursor("payments", {
                "resume_from": now if done else c.resume_from,
                "seen_at_resume": [] if done else sorted(c.seen_at_resume),
                "truncated": not done, "updated_at": now})

        return self._sweep(cursor, now, deadline, report, save)

    def _scheduled_cursor(self, now: datetime, state: dict[str, Any]) -> Cursor:
        floor = now - MAX_LOOKBACK
        resume = state.get("resume_from")
        if not isinstance(resume, datetime):
            return Cursor(now - timedelta(minutes=self._settings.reconcile_window_minutes))
        if not state.get("truncated"):
            return Cursor(max(resume - OVERLAP, floor))
        if resume < floor:
            return Cursor(floor)
        return Cursor(resume, set(state.get("seen_at_resume") or []))

    def _window_sweep(self, now: datetime, since: timedelta, new_window: bool, deadline: float,
                      report: ReconcileReport) -> bool:
        report.mode = "window"
        state = self._store.cursor("window")
        start = max(now - since, now - MAX_LOOKBACK)
        w_start, resume = state.get("start"), state.get("resume_from")
        end = now
        if (not new_window and not state.get("done") and isinstance(w_start, datetime)
                and isinstance(resume, datetime) and w_start <= start):
            # An open window that already holds this start: continue it, up to now.
            report.continued = True
            if start <= resume:
                cursor = Cursor(resume, set(state.get("seen_at_resume") or []))
            else:  # what lies before this start was not asked for again
                w_start, cursor = start, Cursor(start)
        else:
            w_start, cursor = start, Cursor(start)
        report.window_start, report.window_end = mp_datetime(w_start), mp_datetime(end)

        def save(c: Cursor, done: bool) -> None:
            self._store.save_cursor("window", {
                "start": w_start, "end": end, "resume_from": c.resume_from,
                "seen_at_resume": sorted(c.seen_at_resume), "done": done, "updated_at": now})

        return self._sweep(cursor, end, deadline, report, save)

    def _sweep(self, cursor: Cursor, end: datetime, deadline: float, report: ReconcileReport,
               save: Callable[[Cursor, bool], None]) -> bool:
        """Page from ``cursor`` to ``end`` until covered, out of time or at the item cap.
        The cursor is saved at most every ``SAVE_EVERY`` seconds (Firestore sustains about one
        write per second to one document) and at the end, so a run cut off by its timeout
        repeats at most a few pages."""
        cap = self._settings.reconcile_max_items
        offset = 0
        done = False
        saved_at = self._monotonic()
        while True:
            left = cap - report.payments_seen if cap else PAGE
            if left <= 0 or self._monotonic() >= deadline:
                break
            limit = min(PAGE, left)
            page, total = self._gateway().search_payments_updated(
                cursor.resume_from, end, limit=limit, offset=offset)
            report.pages += 1
            fresh: list[PaymentSnapshot] = []
            advanced = False
            for snap in page:
                moment = parse_mp_datetime(snap.date_last_updated)
                if moment is None or moment < cursor.resume_from:
                    fresh.append(snap)  # cannot order it: look at it, keep the cursor
                elif moment > cursor.resume_from:
                    fresh.append(snap)
                    cursor = Cursor(moment, {snap.id})
                    advanced = True
                elif snap.id not in cursor.seen_at_resume:
                    fresh.append(snap)
                    cursor.seen_at_resume.add(snap.id)
            self._compare_and_enqueue_many(fresh, report)
            report.payments_seen += len(fresh)
            done = not page or offset + len(page) >= total
            report.payments_remaining = 0 if done else max(0, total - offset - len(page))
            if done:
                break
            if self._monotonic() - saved_at >= SAVE_EVERY:
                save(cursor, False)
                saved_at = self._monotonic()
            # Keyset paging: after moving the cursor, start again at it; a page entirely at one
            # instant (more payments than a page in one millisecond) pages on by offset.
            offset = 0 if advanced else offset + len(page)
        save(cursor, done)
        report.window_done = done
        report.covered_until = mp_datetime(end if done else cursor.resume_from)
        return done

    # -- sweep 2: orders still pending past the threshold ---------------------------------
    def _sweep_pending_orders(self, now: datetime, deadline: float,
                              report: ReconcileReport) -> bool:
        """Oldest pending orders first, from the cursor, until out of time; wraps around once
        every pending order past the threshold has been looked at."""
        threshold = now - timedelta(minutes=self._settings.reconcile_pending_after_minutes)
        after = self._store.cursor("pending_orders").get("after")
        # First the orders a lost notification leaves behind (shared/usecases/expiry.py): however many
        # abandoned orders exist, these are checked in this run.
        seen: set[str] = set()
        for order, _read_at in self._store.live_pending_orders(threshold, LIVE_FIRST):
            if self._monotonic() >= deadline:
                break
            self._check_order(order, now, report)
            seen.add(str(order["order_id"]))
        exhausted = False
        while self._monotonic() < deadline:
            docs = self._store.pending_orders(threshold, after, PAGE)
            out_of_time = False
            for order, read_at in docs:
                if self._monotonic() >= deadline:
                    out_of_time = True
                    break
                if order.get("order_id") not in seen:
                    page = self._check_order(order, now, report)
                    self._expire_if_abandoned(order, page, read_at, now, report)
                after = order.get("created_at")
            if out_of_time:
                break
            if len(docs) < PAGE:
                exhausted, after = True, None
                break
        self._store.save_cursor("pending_orders", {"after": after, "updated_at": now})
        return exhausted

    def _check_order(self, order: dict[str, Any], now: datetime,
                     report: ReconcileReport) -> list[PaymentSnapshot]:
        report.orders_checked += 1
        created = order.get("created_at")
        begin = created - ORDER_SEARCH_SLACK if isinstance(created, datetime) else now - MAX_LOOKBACK
        page = self._gateway().search_order_payments(str(order["order_id"]), begin, now)
        self._compare_and_enqueue_many(page, report)
        return page


    def _expire_if_abandoned(self, order: dict[str, Any], page: list[PaymentSnapshot],
                             read_at: Any, now: datetime, report: ReconcileReport) -> None:
        if not should_expire(order, page, now, self._settings):
            return
        if self._store.expire(order, read_at, now, ttl_from_creation=True):
            log.info("order_expired", "abandoned order cancelled", order_id=order["order_id"],
                     checkout_pro=bool(order.get("checkout")))
            report.orders_expired += 1
            hand_over(self._settings, self._queue(), self._outbox, self._markers,
                      str(order["order_id"]))

    # -- both ------------------------------------------------------------------------------
    def _compare_and_enqueue_many(self, snaps: Sequence[PaymentSnapshot],
                                  report: ReconcileReport) -> None:
        """Compare a page with Firestore in one batched read; enqueue what differs."""
        mine = [snap for snap in snaps if snap.external_reference]
        if not mine:
            return
        stored = self._store.stored_payments([snap.id for snap in mine])
        for snap in mine:
            self._compare_and_enqueue(snap, stored.get(snap.id), report)

    def _compare_and_enqueue(self, snap: PaymentSnapshot, stored: dict[str, Any] | None,
                             report: ReconcileReport) -> None:
        if stored and (stored.get("status"), stored.get("status_detail"),
                       stored.get("date_last_updated")) == (
                snap.status, snap.status_detail, snap.date_last_updated):
            return
        task = fulfil_task.FulfilTask.for_reconcile(snap.id, snap.status, snap.status_detail,
                                                    snap.date_last_updated)
        created = fulfil_task.enqueue(self._settings, self._queue(), task)
        if created:
            report.enqueued += 1
            report.corrected.append(snap.id)
        else:
            report.already_queued += 1

