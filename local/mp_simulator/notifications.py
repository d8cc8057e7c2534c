"""Webhook notifications: building, signing, delivering with retries, test modes, log.

Nothing here runs inside an API request: ``Notifier.notify`` only queues. Delivery runs on a
thread pool; retries are re-queued through the scheduler with ``config.retry_delays``.
Modes: ``deliver`` (default), ``drop`` (never sent) and ``hold`` (kept until ``flush``).
``duplicates = n`` sends every notification n times concurrently (each copy retries alone).
``pending()`` counts the deliveries not finished yet (queued, in flight, waiting for a retry or
in a flush): zero means the delivery log holds everything that will be sent.
"""

from __future__ import annotations

import collections
import http.client
import json
import logging
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from . import clock
from .config import SimulatorConfig
from .ids import IdSequence
from .scheduler import Scheduler
from .signing import signature_header

log = logging.getLogger(__name__)

MODES = ("deliver", "drop", "hold")
FRAUD_ALERT = "stop_delivery_op_wh"  # Mercado Pago never retries these
ORDERS = ("fifo", "reverse", "shuffle")
USER_AGENT = "MercadoPago WebHook v1.0"


@dataclass(frozen=True)
class Notification:
    """One Webhooks notification, shaped as Mercado Pago's guide shows per topic.

    ``topic`` is the wire ``type``: ``payment``, ``topic_merchant_order_wh``,
    ``topic_chargebacks_wh`` or ``stop_delivery_op_wh`` (never an IPN topic name).
    ``data_id`` is the query ``data.id`` (and the signed id); None when the topic sends none.
    """

    id: int
    topic: str
    action: str
    data_id: str | None
    url: str  # the resource's notification_url, as given
    date_created: str
    user_id: int
    generation: int
    duplicates: int
    extra: tuple[tuple[str, Any], ...] = ()

    def target_url(self) -> str:
        sep = "&" if urlsplit(self.url).query else ("" if self.url.endswith("?") else "?")
        query = f"data.id={self.data_id}&type={self.topic}" if self.data_id is not None \
            else f"type={self.topic}"
        return f"{self.url}{sep}{query}"

    def body(self) -> dict[str, Any]:
        return webhook_body(self, dict(self.extra))

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.topic,
            "action": self.action,
            "data_id": self.data_id,
            "url": self.target_url(),
            "date_created": self.date_created,
        }


def webhook_body(note: Notification, extra: dict[str, Any]) -> dict[str, Any]:
    """The JSON body per topic (Mercado Pago's Webhooks guide and captured deliveries)."""
    if note.topic == "topic_merchant_order_wh":
        # body id IS the merchant order id; data carries no id
        status = str(extra.get("status") or "opened")
        return {"action": note.action, "application_id": str(note.user_id),
                "data": {"currency_id": "", "marketplace": "NONE", "status": status},
                "date_created": note.date_created, "id": note.data_id, "live_mode": False,
                "status": status, "type": note.topic, "user_id": note.user_id,
                "version": int(extra.get("version") or 0)}
    if note.topic == "topic_chargebacks_wh":
        return {"actions": [note.action], "api_version": "v1", "application_id": note.user_id,
                "data": {"checkout": "PRO", "date_updated": note.date_created,
                         "id": int(str(note.data_id)), "payment_id": int(extra["payment_id"]),
                         "product_id": "SIMULATOR", "site_id": str(extra.get("site_id") or ""),
                         "transaction_intent_id": ""},
                "date_created": note.date_created, "id": note.id, "live_mode": False,
                "type": note.topic, "user_id": note.user_id, "version": note.id}
    if note.topic == FRAUD_ALERT:
        # no data.id: the payment and merchant order are named in data
        return {"action": note.action, "api_version": "v1",
                "data": {"description": str(extra.get("description") or ""),
                         "merchant_order": extra.get("merchant_order"),
                         "payment_id": int(extra["payment_id"]),
                         "site_id": str(extra.get("site_id") or "")},
                "date_created": note.date_created, "id": str(extra["payment_id"]),
                "live_mode": False, "type": note.topic, "user_id": note.user_id, "version": 1}
    return {
        "id": note.id,
        "live_mode": False,
        "type": note.topic,
        "date_created": note.date_created,
        "user_id": note.user_id,
        "api_version": "v1",
        "action": note.action,
        "data": {"id": note.data_id},
    }


@dataclass(frozen=True)
class Attempt:
    status_code: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post_json(url: str, payload: bytes, headers: dict[str, str], timeout: float) -> Attempt:
    """One POST with the standard library (no proxies from the environment, no redirects)."""
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if parts.hostname is None:
        return Attempt(None, "invalid notification_url")
    secure = parts.scheme == "https"
    conn_cls = http.client.HTTPSConnection if secure else http.client.HTTPConnection
    conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", path, body=payload, headers=headers)
        response = conn.getresponse()
        response.read()
        return Attempt(response.status, None)
    except TimeoutError:
        return Attempt(None, "timeout")
    except OSError as exc:
        return Attempt(None, f"connection_error: {type(exc).__name__}")
    except http.client.HTTPException as exc:
        return Attempt(None, f"http_error: {type(exc).__name__}")
    finally:
        conn.close()


class _DaemonPool:
    """Worker threads that never hold up interpreter exit (a receiver may hang for 22 s)."""

    def __init__(self, workers: int) -> None:
        self._jobs: queue.Queue[tuple[Callable[[], None], threading.Event] | None] = queue.Queue()
        self._closed = False
        for n in range(workers):
            threading.Thread(target=self._work, name=f"mp-sim-hook-{n}", daemon=True).start()
        self._workers = workers

    def submit(self, job: Callable[[], None]) -> threading.Event | None:
        if self._closed:
            return None
        done = threading.Event()
        self._jobs.put((job, done))
        return done

    def close(self) -> None:
        self._closed = True
        for _ in range(self._workers):
            self._jobs.put(None)

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, done = item
            try:
                job()
            except Exception:
                log.exception("notification delivery failed")
            finally:
                done.set()


class Notifier:
    def __init__(self, config: SimulatorConfig, scheduler: Scheduler) -> None:
        self._config = config
        self._scheduler = scheduler
        self._ids = IdSequence(10_000_000_000, 90_000_000_000)
        self._lock = threading.Lock()
        self._pool = _DaemonPool(config.delivery_workers)
        self._generation = 0
        self._mode = "deliver"
        self._duplicates = 1
        self._held: list[Notification] = []
        self._produced: list[dict[str, Any]] = []
        self._log: list[dict[str, Any]] = []
        self._pending: collections.Counter[int] = collections.Counter()  # per generation

    # --- settings and inspection -------------------------------------------------------
    def configure(self, mode: str | None = None, duplicates: int | None = None) -> dict[str, Any]:
        with self._lock:
            if mode is not None:
                if mode not in MODES:
                    raise ValueError(f"mode must be one of {', '.join(MODES)}")
                self._mode = mode
            if duplicates is not None:
                if duplicates < 1:
                    raise ValueError("duplicates must be >= 1")
                self._duplicates = duplicates
        return self.settings()

    def settings(self) -> dict[str, Any]:
        with self._lock:
            return {
                "mode": self._mode,
                "duplicates": self._duplicates,
                "held": [n.summary() for n in self._held],
            }

    def produced(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(p) for p in self._produced]

    def delivery_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._log]

    def pending(self) -> int:
        """Deliveries of the current generation not finished yet (retries included)."""
        with self._lock:
            return self._pending[self._generation]

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._mode = "deliver"
            self._duplicates = 1
            self._held.clear()
            self._produced.clear()
            self._log.clear()
            self._pending.clear()  # earlier generations' work no longer counts

    def close(self) -> None:
        with self._lock:
            self._generation += 1
        self._pool.close()

    # --- producing -----------------------------------------------------------------------
    def notify(self, topic: str, action: str, data_id: str | None, url: str | None,
               extra: dict[str, Any] | None = None) -> int | None:
        """Queue a notification for ``url`` (none when url is empty). Returns its id.

        ``topic`` is the wire type; ``extra`` fills the topic's body (see ``webhook_body``)."""
        if not url:
            return None
        with self._lock:
            note = Notification(
                id=self._ids.next(),
                topic=topic,
                action=action,
                data_id=data_id,
                url=url,
                date_created=clock.iso(clock.now()),
                user_id=self._config.user_id,
                generation=self._generation,
                duplicates=self._duplicates,
                extra=tuple(sorted((extra or {}).items())),
            )
            disposition = {"deliver": "sent", "drop": "dropped", "hold": "held"}[self._mode]
            self._produced.append({**note.summary(), "disposition": disposition})
            if self._mode == "hold":
                self._held.append(note)
            mode = self._mode
        if mode == "deliver":
            self._start(note)
        return note.id

    def flush(self, order: str = "fifo") -> list[int]:
        """Deliver held notifications, one after another in ``order``, off this thread."""
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}")
        with self._lock:
            batch, self._held = self._held, []
            for entry in self._produced:
                if entry["disposition"] == "held" and any(n.id == entry["id"] for n in batch):
                    entry["disposition"] = "flushed"
        if order == "reverse":
            batch.reverse()
        elif order == "shuffle":
            random.shuffle(batch)
        for note in batch:
            self._hold(note)
        if batch:
            threading.Thread(
                target=self._deliver_in_order, args=(batch,), name="mp-sim-flush", daemon=True
            ).start()
        return [n.id for n in batch]

    # --- delivering ----------------------------------------------------------------------
    def _current(self, note: Notification) -> bool:
        with self._lock:
            return note.generation == self._generation

    def _hold(self, note: Notification) -> None:
        with self._lock:
            if note.generation == self._generation:
                self._pending[note.generation] += 1

    def _release(self, note: Notification) -> None:
        with self._lock:
            if self._pending[note.generation] > 0:
                self._pending[note.generation] -= 1

    def _submit(self, note: Notification, attempt: int, copy: int) -> threading.Event | None:
        self._hold(note)
        done = self._pool.submit(lambda: self._attempt_once(note, attempt, copy))
        if done is None:
            self._release(note)
        return done

    def _attempt_once(self, note: Notification, attempt: int, copy: int) -> None:
        try:
            self._attempt(note, attempt, copy)
        finally:
            self._release(note)

    def _start(self, note: Notification) -> list[threading.Event]:
        started = [self._submit(note, 0, copy) for copy in range(note.duplicates)]
        return [done for done in started if done is not None]

    def _deliver_in_order(self, batch: list[Notification]) -> None:
        for note in batch:
            try:
                for done in self._start(note):
                    done.wait()
            finally:
                self._release(note)

    def _attempt(self, note: Notification, attempt: int, copy: int) -> None:
        if not self._current(note):
            return
        request_id = str(uuid.uuid4())
        ts = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"{USER_AGENT} {note.topic}",
            "x-request-id": request_id,
            "x-signature": signature_header(
                self._config.webhook_secret, note.data_id, request_id, ts
            ),
            "x-socket-timeout": str(int(self._config.receiver_timeout * 1000)),
        }
        if attempt > 0:
            headers["x-retry"] = str(attempt)
        payload = json.dumps(note.body()).encode()
        started = clock.now()
        t0 = time.monotonic()
        result = post_json(note.target_url(), payload, headers, self._config.receiver_timeout)
        entry = {
            "notification_id": note.id,
            "type": note.topic,
            "action": note.action,
            "data_id": note.data_id,
            "url": note.target_url(),
            "payment_id": note.data_id if note.topic == "payment" else None,
            "attempt": attempt,
            "copy": copy,
            "request_id": request_id,
            "status_code": result.status_code,
            "error": result.error,
            "ok": result.ok,
            "time": clock.iso(started),
            "duration_ms": round((time.monotonic() - t0) * 1000, 1),
        }
        with self._lock:
            if note.generation != self._generation:
                return
            self._log.append(entry)
        log.info(
            "webhook %s %s data.id=%s attempt=%d -> %s",
            note.id, note.action, note.data_id, attempt, result.status_code or result.error,
        )
        delays = self._config.retry_delays
        if not result.ok and attempt < len(delays) and note.topic != FRAUD_ALERT:
            self._hold(note)
            self._scheduler.call_later(
                delays[attempt], lambda: self._retry(note, attempt + 1, copy)
            )

    def _retry(self, note: Notification, attempt: int, copy: int) -> None:
        try:
            if self._current(note):
                self._submit(note, attempt, copy)
        finally:
            self._release(note)
