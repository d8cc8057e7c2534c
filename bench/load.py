"""Load: warm throughput of one function (M pre-built requests from C threads, each with its
own pooled session), and ``make load``: buyers against the whole local stack (bench/buyers.py)."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter

from bench.buyers import BuyersResult, EventSink, FirestoreCounter, LoadConfig, run_buyers
from bench.fixtures import SignedNotification

if TYPE_CHECKING:
    from local.stack import LocalStack

REQUEST_TIMEOUT = 10.0


@dataclass(frozen=True)
class LoadResult:
    sent: int
    ok: int
    errors: dict[str, int]
    seconds: float
    latencies_ms: list[float]  # of the successful requests
    timed_out: bool  # the overall deadline stopped the run early

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile of the latencies (ms)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        rank = max(1, min(len(ordered), round(q / 100.0 * len(ordered) + 0.5)))
        return ordered[rank - 1]

    @property
    def p50(self) -> float:
        return float(statistics.median(self.latencies_ms)) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(99.0)


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0)
    session.mount("http://", adapter)
    return session


def run_load(base_url: str, batch: Sequence[SignedNotification], concurrency: int,
             deadline_seconds: float, expect: int = 200, expect_text: str | None = None
             ) -> LoadResult:
    """Send every request of ``batch`` once, ``concurrency`` at a time.

    Bounded: each request has a timeout, and no new request starts after ``deadline_seconds``.
    """
    lock = threading.Lock()
    next_index = 0
    latencies: list[float] = []
    errors: dict[str, int] = {}
    sent = 0
    timed_out = False
    start_gate = threading.Barrier(concurrency + 1)
    stop_at = 0.0

    def worker() -> None:
        nonlocal next_index, sent, timed_out
        session = _session()
        mine: list[float] = []
        my_errors: dict[str, int] = {}
        my_sent = 0
        try:
            start_gate.wait()
            while True:
                with lock:
                    index = next_index
                    next_index += 1
                if index >= len(batch):
                    break
                if time.monotonic() >= stop_at:
                    with lock:
                        timed_out = True
                    break
                item = batch[index]
                my_sent += 1
                t0 = time.perf_counter()
                try:
                    response = session.post(base_url + item.path, data=item.body,
                                            headers=item.headers, timeout=REQUEST_TIMEOUT)
                    elapsed = (time.perf_counter() - t0) * 1000.0
                    text = response.text
                except requests.RequestException as exc:
                    key = type(exc).__name__
                    my_errors[key] = my_errors.get(key, 0) + 1
                    continue
                if response.status_code != expect or (expect_text and expect_text not in text):
                    key = f"HTTP {response.status_code}"
                    my_errors[key] = my_errors.get(key, 0) + 1
                    continue
                mine.append(elapsed)
        finally:
            session.close()
            with lock:
                latencies.extend(mine)
                sent += my_sent
                for key, count in my_errors.items():
                    errors[key] = errors.get(key, 0) + count

    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True)
               for i in range(concurrency)]
    for thread in threads:
        thread.start()
    stop_at = time.monotonic() + deadline_seconds
    t0 = time.perf_counter()
    start_gate.wait()
    for thread in threads:
        thread.join(timeout=deadline_seconds + REQUEST_TIMEOUT + 5)
    seconds = time.perf_counter() - t0
    return LoadResult(sent, len(latencies), errors, seconds, latencies, timed_out)


# ------------------------------------------------------------------------------------------
# `make load` / `python -m bench.load`: buyers against a whole local stack (bench/buyers.py)


def start_load_stack(run_dir: Path, extra_env: Mapping[str, str] | None = None
                     ) -> tuple[LocalStack, EventSink, FirestoreCounter]:
    """A local stack on free ports whose functions reach Firestore through a counting proxy
    (one port per function) and send order events to an in-process sink. Seeded."""
    from dataclasses import replace

    from local.seed import seed
    from local.stack import LocalStack, StackOptions, StackPorts, standard_services

    ports = StackPorts.free()
    sink = EventSink()
    names = ("create_payment", "ipn_webhook", "fulfill", "reconcile")
    counter = FirestoreCounter(("127.0.0.1", ports.firestore), names)
    options = StackOptions(
        time_scale=0.1, cont_delay=0.5, retry_delays=(0.5, 2.0, 5.0),
        function_env={"MERCHANT_WEBHOOK_URL": sink.url, "LOG_LEVEL": "INFO",
                      **(extra_env or {})})
    services = [
        replace(spec, env={**(spec.env or {}), "FIRESTORE_EMULATOR_HOST": counter.host(spec.name)})
        if spec.name in names else spec
        for spec in standard_services(ports, options)
    ]
    stack = LocalStack(ports, options, run_dir, services=services)
    stack.start()
    try:
        seed(stack.project, stack.endpoints.firestore_host)
    except BaseException:
        stack.stop()
        raise
    return stack, sink, counter


RECONCILE_STATS: dict[str, float] = {}


def reconcile_until_done(stack: LocalStack) -> int:
    """`mpctl reconcile --since 30m --until-done` with short bounded runs; returns the runs
    (and leaves payments seen and seconds in ``RECONCILE_STATS``)."""
    import json
    import re
    import subprocess
    import sys

    env = {**stack.function_env, "RECONCILE_TIME_BUDGET_SECONDS": "5", "LOG_LEVEL": "WARNING"}
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "mpctl", "reconcile", "--since", "30m",
                           "--new-window", "--until-done"], env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"mpctl reconcile failed: {done.stderr[-2000:]}")
    seen = sum(int(n) for n in re.findall(r"(\d+) payments seen", done.stderr))
    RECONCILE_STATS.update(payments_seen=seen, seconds=time.monotonic() - t0)
    return int(json.loads(done.stdout)["runs"])


def run_load_on_new_stack(config: LoadConfig, run_dir: Path) -> BuyersResult:
    stack, sink, counter = start_load_stack(run_dir)
    try:
        return run_buyers(stack, config, sink=sink, counter=counter,
                          reconcile=lambda: reconcile_until_done(stack))
    finally:
        stack.stop()
        counter.close()
        sink.close()


FUNCTION_NAMES = ("create_payment", "ipn_webhook", "fulfill")


def format_load(result: BuyersResult) -> str:
    d = result.as_dict()
    lines = [
        f"buyers {d['concurrency']}, orders {d['total']}: created {d['created']}, "
        f"approved {d['approved']}, paid {d['paid']}, lost {d['lost']}, "
        f"duplicate events {d['duplicate_events']} (events received {d['events']})",
        f"errors: {', '.join(d['errors']) or 'none'}",
        f"paid orders/s: {d['paid_orders_per_second']} over {d['seconds']} s",
        "create latency ms      p50 {p50}  p95 {p95}  p99 {p99}".format(**d["create_ms"]),
        "approved -> paid ms    p50 {p50}  p95 {p95}  p99 {p99}".format(
            **d["approved_to_paid_ms"]),
        f"faults: kills {d['kills'] or 'none'}, restarts {d['restarts']}, "
        f"reconcile runs {d['reconcile_runs']}",
        "",
        f"{'process':<16}{'CPU s':>9}{'CPU ms/paid':>13}{'peak RSS MB':>13}"
        f"{'log B/paid':>12}{'Firestore calls/paid':>22}",
    ]
    for name in sorted(d["cpu_seconds"]):
        lines.append(
            f"{name:<16}{d['cpu_seconds'][name]:>9.2f}{d['cpu_ms_per_paid_order'][name]:>13.2f}"
            f"{d['peak_rss_mb'].get(name, 0.0):>13.1f}"
            f"{d['log_bytes_per_paid_order'].get(name, 0):>12}"
            f"{d['firestore_calls_per_paid_order'].get(name, 0.0):>22}")
    functions = sum(d["cpu_ms_per_paid_order"].get(n, 0.0) for n in FUNCTION_NAMES)
    platform = sum(v for k, v in d["cpu_ms_per_paid_order"].items()
                   if k not in FUNCTION_NAMES and k != "reconcile")
    w = d["create_payment_without_polling"]
    bare = functions - d["cpu_ms_per_paid_order"].get("create_payment", 0.0) + \
        w["cpu_ms_per_paid_order"]
    lines.append(f"buyers' polling: {d['order_polls']} GET /orders, each "
                 f"{d['per_poll']['create_payment_cpu_ms']} ms CPU and "
                 f"{d['per_poll']['firestore_calls']} Firestore calls in create_payment; "
                 f"without it create_payment takes {w['cpu_ms_per_paid_order']} ms and "
                 f"{w['firestore_calls_per_paid_order']} Firestore calls per paid order")
    lines.append(f"CPU ms per paid order: create_payment + ipn_webhook + fulfill {bare:.2f} "
                 f"without polling ({functions:.2f} with); emulators + simulator {platform:.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse
    import json
    import time as _time

    from local.stack import REPO_ROOT

    p = argparse.ArgumentParser(prog="python -m bench.load",
                                description="Buyers against the local stack (make load).")
    p.add_argument("--total", type=int, default=1000, help="orders to attempt (default 1000)")
    p.add_argument("--concurrency", type=int, default=20, help="buyer threads (default 20)")
    p.add_argument("--rejected-share", type=float, default=0.1)
    p.add_argument("--pix-share", type=float, default=0.1)
    p.add_argument("--mp-faults", action="store_true", help="Mercado Pago 5xx and hangs")
    p.add_argument("--drop-notifications", action="store_true",
                   help="drop every notification in the middle third; reconcile recovers them")
    p.add_argument("--kill", type=int, default=0, help="function processes to kill (restarted)")
    p.add_argument("--paid-deadline", type=float, default=60.0)
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    config = LoadConfig(total=args.total, concurrency=args.concurrency,
                        rejected_share=args.rejected_share, pix_share=args.pix_share,
                        mp_faults=args.mp_faults, drop_notifications=args.drop_notifications,
                        kill_functions=args.kill, paid_deadline=args.paid_deadline)
    run_dir = REPO_ROOT / ".local-run" / _time.strftime("load-%Y%m%d-%H%M%S")
    result = run_load_on_new_stack(config, run_dir)
    print(format_load(result))
    if RECONCILE_STATS:
        rate = RECONCILE_STATS["payments_seen"] / max(RECONCILE_STATS["seconds"], 1e-9)
        print(f"reconcile: {RECONCILE_STATS['payments_seen']:.0f} payments looked at in "
              f"{RECONCILE_STATS['seconds']:.1f} s ({rate:.1f}/s, mpctl process start "
              f"included)")
    print(f"logs: {run_dir}")
    if args.json is not None:
        args.json.write_text(json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n")
    return 0 if result.lost == 0 and result.duplicates == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
