"""Warm throughput: M pre-built requests from C threads, each with its own pooled session."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from bench.fixtures import SignedNotification

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
