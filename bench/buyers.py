"""Buyers against the local stack: tokenize, create, follow the order until paid.

``run_buyers`` drives a running ``LocalStack`` with ``concurrency`` buyer threads until
``total`` orders were attempted. Each buyer takes the next job: most pay by card (approved at
once); a share first gets a rejected card and retries the same order with a good one; a share
pays by PIX, which the simulator approves (the buyer "pays the QR code"). Every create carries
an ``Idempotency-Key`` and is retried with it on a 5xx or a timeout, as a browser would. After
the approval the buyer polls ``GET /orders/<id>`` until ``paid``; an order approved at Mercado
Pago but not paid by ``paid_deadline`` seconds after the end of the run is *lost*.

Optional faults while buyers run: Mercado Pago 5xx answers and hangs (simulator fault rules),
notifications dropped for a slice of the run (recovered by bounded reconcile runs at the end,
as the scheduler would), and function processes killed (the supervisor restarts them).

``ProcessMeter`` samples every service's process group in /proc (CPU seconds and peak RSS
of each member); ``FirestoreCounter`` is a TCP proxy in front of the Firestore emulator that
counts gRPC calls (new HTTP/2 streams) per function.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import statistics
import struct
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from local.processes import process_group_members
from local.stack import MP_PUBLIC_KEY, LocalStack

CARD = {"card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123"}
PAYER = {"email": "buyer@example.com", "identification": {"type": "CPF", "number": "12345678909"}}
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# ------------------------------------------------------------------------------------------
# The shop backend: order events received


class EventSink:
    """A threaded HTTP server recording merchant events (``X-Event-Id``, type, order)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple[str, str, str]] = []  # (event id, type, order id)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    doc = json.loads(body)
                    data = doc.get("data") or {}
                    order = str(data.get("order_id") or doc.get("order_id") or "")
                    entry = (self.headers.get("X-Event-Id", ""), str(doc.get("type")), order)
                except ValueError:
                    entry = ("", "unparsable", "")
                with sink.lock:
                    sink.events.append(entry)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def duplicates(self) -> int:
        """Distinct events beyond the first of one type for one order (a redelivery of the
        same ``X-Event-Id`` is not a duplicate: receivers deduplicate on it)."""
        with self.lock:
            seen: dict[tuple[str, str], set[str]] = {}
            for event_id, kind, order in self.events:
                seen.setdefault((kind, order), set()).add(event_id)
        return sum(len(ids) - 1 for ids in seen.values())

    def paid_orders(self) -> set[str]:
        with self.lock:
            return {order for _, kind, order in self.events if kind == "order.paid"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ------------------------------------------------------------------------------------------
# Firestore round trips: a counting proxy


class FirestoreCounter:
    """A TCP proxy per client name in front of the Firestore emulator; counts the gRPC calls
    each client makes (HTTP/2 HEADERS frames opening a new client stream)."""

    def __init__(self, upstream: tuple[str, int], names: Sequence[str]) -> None:
        self.upstream = upstream
        self.counts = dict.fromkeys(names, 0)
        self.lock = threading.Lock()
        self.ports: dict[str, int] = {}
        self._listeners: list[socket.socket] = []
        for name in names:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", 0))
            listener.listen(64)
            self.ports[name] = int(listener.getsockname()[1])
            self._listeners.append(listener)
            threading.Thread(target=self._accept, args=(name, listener), daemon=True).start()

    def host(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def _accept(self, name: str, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._client_to_server, args=(name, client, server),
                             daemon=True).start()
            threading.Thread(target=_pipe, args=(server, client), daemon=True).start()

    def _client_to_server(self, name: str, client: socket.socket, server: socket.socket) -> None:
        buffer = b""
        preface_left = 24  # "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
        highest = 0
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                server.sendall(data)
                buffer += data
                if preface_left:
                    cut = min(preface_left, len(buffer))
                    buffer, preface_left = buffer[cut:], preface_left - cut
                while len(buffer) >= 9:
                    length = int.from_bytes(buffer[:3], "big")
                    if len(buffer) < 9 + length:
                        break
                    kind = buffer[3]
                    stream = struct.unpack(">I", buffer[5:9])[0] & 0x7FFFFFFF
                    if kind == 0x1 and stream > highest:  # HEADERS opening a new stream
                        highest = stream
                        with self.lock:
                            self.counts[name] += 1
                    buffer = buffer[9 + length:]
        except OSError:
            pass
        finally:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for listener in self._listeners:
            listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# ------------------------------------------------------------------------------------------
# CPU and memory of each service


@dataclass
class _PidSample:
    cpu_ticks: int = 0
    peak_rss_kb: int = 0


class ProcessMeter:
    """Samples each service's process group every ``interval`` s: CPU ticks per pid (the last
    value seen counts, so a killed worker's CPU is kept) and each pid's VmHWM."""

    def __init__(self, stack: LocalStack, interval: float = 0.25) -> None:
        self.stack = stack
        self.interval = interval
        self.samples: dict[str, dict[int, _PidSample]] = {}
        self.baseline: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.sample()
        self.baseline = self.cpu_seconds()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for name, pgid in self.stack.pgids.items():
            per_pid = self.samples.setdefault(name, {})
            for pid in process_group_members(pgid):
                ticks, hwm = read_proc(pid)
                if ticks is None:
                    continue
                s = per_pid.setdefault(pid, _PidSample())
                s.cpu_ticks = max(s.cpu_ticks, ticks)
                s.peak_rss_kb = max(s.peak_rss_kb, hwm)

    def cpu_seconds(self) -> dict[str, float]:
        return {name: sum(s.cpu_ticks for s in pids.values()) / CLK_TCK
                for name, pids in self.samples.items()}

    def used_cpu_seconds(self) -> dict[str, float]:
        now = self.cpu_seconds()
        return {name: now[name] - self.baseline.get(name, 0.0) for name in now}

    def peak_rss_mb(self) -> dict[str, float]:
        """The largest VmHWM of one process plus the other live members' at that pid set:
        reported as the sum of each pid's peak (master + worker of a function)."""
        out: dict[str, float] = {}
        for name, pids in self.samples.items():
            out[name] = sum(s.peak_rss_kb for s in pids.values()) / 1024.0
        return out


def read_proc(pid: int) -> tuple[int | None, int]:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        fields = stat[stat.rfind(b")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        hwm = 0
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
                    break
        return ticks, hwm
    except (OSError, ValueError, IndexError):
        return None, 0


# ------------------------------------------------------------------------------------------
# Buyers


@dataclass(frozen=True)
class LoadConfig:
    total: int = 100
    concurrency: int = 10
    rejected_share: float = 0.1  # first card rejected, the order retried with a good one
    pix_share: float = 0.1  # PIX, approved by the simulator
    paid_deadline: float = 60.0  # seconds after the buyers finished until unpaid = lost
    mp_faults: bool = False
    drop_notifications: bool = False  # drop every notification during the middle third
    kill_functions: int = 0  # function processes killed during the run (restarted)
    kill_targets: tuple[str, ...] = ("fulfill", "create_payment", "ipn_webhook")  # in turn
    seed: int = 12


@dataclass
class OrderTrace:
    order_id: str = ""
    kind: str = "card"
    create_ms: list[float] = field(default_factory=list)
    approved_at: float | None = None  # wall clock, when the buyer saw the approval
    paid_at: float | None = None  # wall clock, the order's paid_at (the same machine's clock)
    error: str = ""
    polls: int = 0


@dataclass
class BuyersResult:
    config: LoadConfig
    traces: list[OrderTrace]
    seconds: float
    duplicates: int
    events: int
    cpu_seconds: dict[str, float]
    peak_rss_mb: dict[str, float]
    log_bytes: dict[str, int]
    firestore_calls: dict[str, int]
    kills: list[str]
    reconcile_runs: int
    restarts: dict[str, int]
    poll_cpu_ms: float = 0.0  # create_payment CPU per buyer poll (GET /orders), calibrated
    poll_firestore_calls: float = 0.0  # create_payment Firestore calls per poll, calibrated

    @property
    def created(self) -> int:
        return sum(1 for t in self.traces if t.order_id)

    @property
    def approved(self) -> int:
        return sum(1 for t in self.traces if t.approved_at is not None)

    @property
    def paid(self) -> int:
        return sum(1 for t in self.traces if t.paid_at is not None)

    @property
    def lost(self) -> int:
        return sum(1 for t in self.traces if t.approved_at is not None and t.paid_at is None)

    @property
    def paid_per_second(self) -> float:
        return self.paid / self.seconds if self.seconds > 0 else 0.0

    def create_latencies(self) -> list[float]:
        return [ms for t in self.traces for ms in t.create_ms]

    def approved_to_paid(self) -> list[float]:
        """From the buyer seeing the approval to the order's ``paid_at``; a card order can be
        paid before its create call returns (the notification comes first): 0 then."""
        return [max(0.0, (t.paid_at - t.approved_at) * 1000.0) for t in self.traces
                if t.paid_at is not None and t.approved_at is not None]

    def as_dict(self) -> dict[str, Any]:
        paid = max(self.paid, 1)
        return {
            "total": self.config.total, "concurrency": self.config.concurrency,
            "created": self.created, "approved": self.approved, "paid": self.paid,
            "lost": self.lost, "duplicate_events": self.duplicates, "events": self.events,
            "errors": sorted({t.error for t in self.traces if t.error}),
            "seconds": round(self.seconds, 2),
            "paid_orders_per_second": round(self.paid_per_second, 2),
            "create_ms": percentiles(self.create_latencies()),
            "approved_to_paid_ms": percentiles(self.approved_to_paid()),
            "cpu_seconds": {k: round(v, 3) for k, v in self.cpu_seconds.items()},
            "cpu_ms_per_paid_order": {k: round(v * 1000.0 / paid, 2)
                                      for k, v in self.cpu_seconds.items()},
            "peak_rss_mb": {k: round(v, 1) for k, v in self.peak_rss_mb.items()},
            "log_bytes_per_paid_order": {k: round(v / paid) for k, v in self.log_bytes.items()},
            "firestore_calls_per_paid_order": {k: round(v / paid, 2)
                                               for k, v in self.firestore_calls.items()},
            "order_polls": sum(t.polls for t in self.traces),
            "per_poll": {"create_payment_cpu_ms": round(self.poll_cpu_ms, 3),
                         "firestore_calls": round(self.poll_firestore_calls, 3)},
            "create_payment_without_polling": self.without_polling(),
            "kills": self.kills, "restarts": self.restarts,
            "reconcile_runs": self.reconcile_runs,
        }


    def without_polling(self) -> dict[str, float]:
        """create_payment's CPU ms and Firestore calls per paid order, the buyers' polling of
        GET /orders taken out (its per-poll cost measured apart after the run)."""
        paid = max(self.paid, 1)
        polls = sum(t.polls for t in self.traces)
        cpu = self.cpu_seconds.get("create_payment", 0.0) * 1000.0 - polls * self.poll_cpu_ms
        calls = self.firestore_calls.get("create_payment", 0) - polls * self.poll_firestore_calls
        return {"cpu_ms_per_paid_order": round(max(cpu, 0.0) / paid, 2),
                "firestore_calls_per_paid_order": round(max(calls, 0.0) / paid, 2)}


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}
    ordered = sorted(values)

    def rank(q: float) -> float:
        index = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
        return round(ordered[index - 1], 1)

    return {"p50": round(float(statistics.median(ordered)), 1), "p95": rank(95), "p99": rank(99)}


class Buyers:
    def __init__(self, stack: LocalStack, config: LoadConfig) -> None:
        self.stack = stack
        self.config = config
        self.urls = stack.endpoints
        rng = random.Random(config.seed)
        self.kinds = []
        for _ in range(config.total):
            roll = rng.random()
            self.kinds.append("rejected_first" if roll < config.rejected_share else
                              "pix" if roll < config.rejected_share + config.pix_share else "card")
        self.traces = [OrderTrace(kind=k) for k in self.kinds]
        self._next = 0
        self._lock = threading.Lock()

    # one buyer thread
    def worker(self) -> None:
        session = requests.Session()
        session.trust_env = False
        while True:
            with self._lock:
                index = self._next
                self._next += 1
            if index >= len(self.traces):
                break
            trace = self.traces[index]
            try:
                self._buy(session, trace)
            except (requests.RequestException, KeyError, ValueError) as exc:
                trace.error = f"{type(exc).__name__}: {str(exc)[:120]}"
        session.close()

    def _token(self, session: requests.Session, holder: str) -> str:
        r = session.post(f"{self.urls.simulator}/v1/card_tokens",
                         params={"public_key": MP_PUBLIC_KEY},
                         json={**CARD, "cardholder": {"name": holder, "identification":
                                                      PAYER["identification"]}}, timeout=10)
        r.raise_for_status()
        return str(r.json()["id"])

    def _create(self, session: requests.Session, trace: OrderTrace, body: dict[str, Any]
                ) -> dict[str, Any]:
        """POST with an Idempotency-Key, retried with the same key on 5xx, timeouts and 409
        ``request_in_progress`` (a first try still running, or cut off by a killed process:
        its key is released after the in-progress lease, 30 s), for up to ``CREATE_PATIENCE``
        seconds, as the API asks (``Retry-After``)."""
        key = uuid.uuid4().hex
        last = ""
        attempt = 0
        give_up = time.monotonic() + CREATE_PATIENCE
        while time.monotonic() < give_up:
            t0 = time.perf_counter()
            wait = min(0.2 * 2**attempt, 2.0)
            attempt += 1
            try:
                r = session.post(self.urls.create_payment + "/", json=body, timeout=20,
                                 headers={"Idempotency-Key": key})
            except requests.RequestException as exc:
                last = type(exc).__name__
            else:
                if r.status_code == 409 and "request_in_progress" in r.text:
                    last = "HTTP 409 request_in_progress"
                    wait = float(r.headers.get("Retry-After") or 1)
                elif r.status_code < 500:
                    trace.create_ms.append((time.perf_counter() - t0) * 1000.0)
                    if r.status_code != 201:
                        raise ValueError(f"create answered {r.status_code}: {r.text[:200]}")
                    return dict(r.json())
                else:
                    last = f"HTTP {r.status_code} {r.text[:120]}"
                    wait = max(wait, float(r.headers.get("Retry-After") or 0))
            time.sleep(wait)
        raise ValueError(f"create failed after {attempt} tries: {last}")

    def _buy(self, session: requests.Session, trace: OrderTrace) -> None:
        items = [{"product_id": "demo-product", "quantity": 1}]
        if trace.kind == "pix":
            answer = self._create(session, trace, {"items": items, "payer": PAYER,
                                                   "payment": {"method": "pix"}})
            trace.order_id = answer["order_id"]
            r = session.post(f"{self.urls.simulator}/_sim/payments/{answer['payment_id']}/status",
                             json={"status": "approved", "status_detail": "accredited"},
                             timeout=10)
            r.raise_for_status()
            trace.approved_at = time.time()
        else:
            holder = "OTHE" if trace.kind == "rejected_first" else "APRO"
            answer = self._create(session, trace, {"items": items, "payer": PAYER, "payment": {
                "method": "card", "token": self._token(session, holder),
                "payment_method_id": "master", "installments": 1}})
            trace.order_id = answer["order_id"]
            if trace.kind == "rejected_first":
                if answer.get("status") != "rejected":
                    raise ValueError(f"expected a rejection, got {answer.get('status')}")
                answer = self._create(session, trace, {"order_id": trace.order_id, "payer": PAYER,
                                                       "payment": {
                    "method": "card", "token": self._token(session, "APRO"),
                    "payment_method_id": "master", "installments": 1}})
            if answer.get("status") != "approved":
                raise ValueError(f"expected an approval, got {answer.get('status')}")
            trace.approved_at = time.time()
        self._follow(session, trace)

    def _follow(self, session: requests.Session, trace: OrderTrace) -> None:
        """Poll the order until paid, for up to ``FOLLOW_SECONDS``; then hand it over to the
        end-of-run check (a dropped notification must not hold the buyer up)."""
        delay = 0.02
        give_up = time.monotonic() + FOLLOW_SECONDS
        while time.monotonic() < give_up:
            try:
                if self._is_paid(session, trace):
                    return
            except requests.RequestException:
                pass  # a restarting create_payment: poll again
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def _is_paid(self, session: requests.Session, trace: OrderTrace) -> bool:
        trace.polls += 1
        r = session.get(f"{self.urls.create_payment}/orders/{trace.order_id}", timeout=10)
        if r.status_code == 200 and r.json().get("status") == "paid":
            paid_at = r.json().get("paid_at")
            trace.paid_at = (datetime.fromisoformat(paid_at).timestamp() if paid_at
                             else time.time())
            return True
        return False

    def follow_rest(self, deadline: float) -> None:
        """Check the approved orders not yet seen paid until all are, or ``deadline``."""
        session = requests.Session()
        session.trust_env = False
        try:
            while time.monotonic() < deadline:
                pending = [t for t in self.traces if t.approved_at is not None and t.paid_at is None]
                if not pending:
                    return
                for trace in pending:
                    with contextlib.suppress(requests.RequestException):
                        self._is_paid(session, trace)
                time.sleep(0.2)
        finally:
            session.close()


FOLLOW_SECONDS = 10.0
CREATE_PATIENCE = 60.0


def run_buyers(stack: LocalStack, config: LoadConfig, *, sink: EventSink,
               counter: FirestoreCounter | None = None,
               reconcile: Callable[[], int] | None = None) -> BuyersResult:
    """Run the buyers (and the configured faults) against a started, seeded stack."""
    buyers = Buyers(stack, config)
    meter = ProcessMeter(stack)
    functions = [n for n in ("create_payment", "ipn_webhook", "fulfill", "reconcile")
                 if n in stack.pgids]
    logs_before = {n: _size(stack.log_path(n)) for n in functions}
    calls_before = counter.snapshot() if counter else {}
    stop_faults = threading.Event()
    kills: list[str] = []
    supervisor_stop = threading.Event()
    supervisor = threading.Thread(target=_supervise, args=(stack, supervisor_stop), daemon=True)
    supervisor.start()
    meter.start()
    wall0 = time.time()
    threads = [threading.Thread(target=buyers.worker, daemon=True)
               for _ in range(config.concurrency)]
    fault_thread = threading.Thread(target=_faults, daemon=True, args=(
        stack, config, buyers, stop_faults, kills))
    fault_thread.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop_faults.set()
    fault_thread.join(timeout=30)
    runs = 0
    if config.drop_notifications and reconcile is not None:
        runs = reconcile()  # what the scheduler would do: bounded runs until covered
    buyers.follow_rest(time.monotonic() + config.paid_deadline)
    seconds = max((tr.paid_at for tr in buyers.traces if tr.paid_at), default=time.time()) - wall0
    # Let in-flight order events land before counting duplicates (bounded wait).
    wait_until(lambda: len(sink.paid_orders()) >= sum(1 for t in buyers.traces if t.paid_at),
               timeout=15)
    meter.sample()
    used = meter.used_cpu_seconds()
    calls_after = counter.snapshot() if counter else {}
    poll_cpu_ms, poll_calls = _calibrate_polls(stack, meter, counter, buyers)
    meter.stop()
    supervisor_stop.set()
    supervisor.join(timeout=5)
    with sink.lock:
        events = len(sink.events)
    return BuyersResult(
        config=config, traces=buyers.traces, seconds=seconds, duplicates=sink.duplicates(),
        events=events, cpu_seconds=used, peak_rss_mb=meter.peak_rss_mb(),
        log_bytes={n: _size(stack.log_path(n)) - logs_before[n] for n in functions},
        firestore_calls={n: calls_after.get(n, 0) - calls_before.get(n, 0) for n in calls_after},
        kills=kills, reconcile_runs=runs, restarts=stack.restarts(),
        poll_cpu_ms=poll_cpu_ms, poll_firestore_calls=poll_calls)


def _calibrate_polls(stack: LocalStack, meter: ProcessMeter, counter: FirestoreCounter | None,
                     buyers: Buyers, polls: int = 200) -> tuple[float, float]:
    """create_payment's CPU ms and Firestore calls per ``GET /orders/<id>``, measured alone."""
    order = next((t.order_id for t in buyers.traces if t.order_id), "")
    if not order:
        return 0.0, 0.0
    session = requests.Session()
    session.trust_env = False
    meter.sample()
    cpu0 = meter.cpu_seconds().get("create_payment", 0.0)
    calls0 = counter.snapshot().get("create_payment", 0) if counter else 0
    for _ in range(polls):
        session.get(f"{stack.endpoints.create_payment}/orders/{order}", timeout=10)
    meter.sample()
    cpu1 = meter.cpu_seconds().get("create_payment", 0.0)
    calls1 = counter.snapshot().get("create_payment", 0) if counter else 0
    session.close()
    return (cpu1 - cpu0) * 1000.0 / polls, (calls1 - calls0) / polls


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _size(path: Any) -> int:
    try:
        return int(os.path.getsize(path))
    except OSError:
        return 0


def _supervise(stack: LocalStack, stop: threading.Event) -> None:
    """Restart killed functions while the load runs (what make dev's supervisor does)."""
    while not stop.wait(0.1):
        stack.supervise_once()


def _faults(stack: LocalStack, config: LoadConfig, buyers: Buyers, stop: threading.Event,
            kills: list[str]) -> None:
    sim = requests.Session()
    sim.trust_env = False
    base = stack.endpoints.simulator
    victims = list(config.kill_targets)
    total = len(buyers.traces)
    next_kill = 1
    dropping = False
    ticks = 0
    try:
        while not stop.wait(0.25):
            ticks += 1
            progress = buyers._next / total if total else 1.0
            if config.mp_faults and ticks % 12 == 0:  # a burst every 3 s
                # bursts: a create answered 500 (nothing created), a create whose answer is
                # lost after the payment was made, a GET payment answered 503 and one hanging
                for rule in ({"status": 500, "method": "POST", "path_prefix": "/v1/payments",
                              "count": 1},
                             {"status": 502, "method": "POST", "path_prefix": "/v1/payments",
                              "count": 1, "phase": "after"},
                             {"status": 503, "method": "GET", "path_prefix": "/v1/payments/",
                              "count": 2},
                             {"timeout_s": 9, "method": "GET", "path_prefix": "/v1/payments/",
                              "count": 1}):
                    sim.post(f"{base}/_sim/faults", json=rule, timeout=5)
            if config.drop_notifications:
                want = 1 / 3 <= progress < 2 / 3
                if want != dropping:
                    sim.post(f"{base}/_sim/notifications",
                             json={"mode": "drop" if want else "deliver"}, timeout=5)
                    dropping = want
            if next_kill <= config.kill_functions and progress >= next_kill / (
                    config.kill_functions + 1):
                name = victims[(next_kill - 1) % len(victims)]
                pgid = stack.pgids.get(name)
                members = process_group_members(pgid) if pgid else []
                # alternately a worker (gunicorn's master forks a new one) and the master
                # (the stack's supervisor restarts the function)
                workers = [p for p in members if p != pgid]
                target = workers[0] if workers and next_kill % 2 else pgid
                if target:
                    try:
                        os.kill(target, signal.SIGKILL)
                        kills.append(f"{name}:{'worker' if target != pgid else 'master'}")
                    except ProcessLookupError:
                        pass
                next_kill += 1
    finally:
        if config.mp_faults:
            sim.delete(f"{base}/_sim/faults", timeout=5)
        if dropping:
            sim.post(f"{base}/_sim/notifications", json={"mode": "deliver"}, timeout=5)
        sim.close()


