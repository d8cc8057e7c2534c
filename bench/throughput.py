"""ipn_webhook's warm throughput against a bare function's, in alternating rounds.

One run on a shared 2-core machine moves by ±0.1 in the ratio, more than most changes to
ipn_webhook do. So the comparison is made in ``rounds`` pairs, alternating which of the two
goes first (ipn, bare | bare, ipn | ...), each server started fresh and warmed up; the figure
reported is the median of the per-round ratios. Each run also reads the CPU that the server's
process group, the Cloud Tasks emulator and the load client spent per request (/proc and
getrusage): CPU per request does not depend on what else runs, requests/s does.
"""

from __future__ import annotations

import resource
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.buyers import CLK_TCK, read_proc
from bench.fixtures import signed_notification
from bench.load import LoadResult, run_load
from bench.procs import Probe, Server, Variant
from local.processes import process_group_members
from local.stack import HOST

LOAD_DEADLINE = 60.0  # seconds, per load run


@dataclass(frozen=True)
class ThroughputRun:
    server: str  # "ipn_webhook" or "bare"
    round_no: int
    load: LoadResult
    server_cpu_ms: float  # per successful request, the server's process group
    emulator_cpu_ms: float  # per successful request, the Cloud Tasks emulator
    client_cpu_ms: float  # per successful request, this process (the load client)


@dataclass(frozen=True)
class ThroughputResult:
    runs: list[ThroughputRun]

    def of(self, server: str) -> list[ThroughputRun]:
        return [r for r in self.runs if r.server == server]

    def round_ratios(self) -> list[float]:
        ipn = {r.round_no: r.load.rps for r in self.of("ipn_webhook")}
        bare = {r.round_no: r.load.rps for r in self.of("bare")}
        return [ipn[n] / bare[n] for n in sorted(ipn) if bare.get(n)]

    def ratio(self) -> float:
        """The median of the per-round ratios (ipn_webhook / bare requests per second)."""
        ratios = self.round_ratios()
        return float(statistics.median(ratios)) if ratios else float("nan")

    def median_rps(self, server: str) -> float:
        return float(statistics.median(r.load.rps for r in self.of(server)))

    def median_cpu(self, server: str, what: str) -> float:
        return float(statistics.median(getattr(r, what) for r in self.of(server)))


def group_cpu_seconds(pgid: int | None) -> float:
    if pgid is None:
        return 0.0
    ticks = 0
    for pid in process_group_members(pgid):
        used, _ = read_proc(pid)
        ticks += used or 0
    return ticks / CLK_TCK


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(ff: str, variant: Variant, label: str, round_no: int, payment_id: str,
            requests_: int, warmup: int, concurrency: int, log_dir: Path, expect_text: str,
            emulator_pgid: int | None) -> ThroughputRun:
    """Start ``variant``, warm it up, then time ``requests_`` unique signed notifications."""
    server = Server(ff, variant, log_dir)
    try:
        server.spawn()

        def one() -> tuple[bytes | None, dict[str, str]]:
            n = signed_notification(payment_id)
            return n.body, n.headers

        server.wait_ready(Probe("POST", signed_notification(payment_id).path, one))
        url = f"http://{HOST}:{server.port}"
        warm = [signed_notification(payment_id) for _ in range(warmup)]
        run_load(url, warm, concurrency, LOAD_DEADLINE, expect_text=expect_text)
        batch = [signed_notification(payment_id) for _ in range(requests_)]  # signed before timing
        assert server.proc is not None
        before = (group_cpu_seconds(server.proc.pid), group_cpu_seconds(emulator_pgid),
                  _self_cpu())
        result = run_load(url, batch, concurrency, LOAD_DEADLINE, expect_text=expect_text)
        after = (group_cpu_seconds(server.proc.pid), group_cpu_seconds(emulator_pgid),
                 _self_cpu())
        if server.proc.poll() is not None:
            raise server.failure("died under load")
        per = 1000.0 / max(result.ok, 1)
        return ThroughputRun(label, round_no, result, (after[0] - before[0]) * per,
                             (after[1] - before[1]) * per, (after[2] - before[2]) * per)
    finally:
        server.stop()


def measure(rounds: int, run: Callable[[str, int], ThroughputRun],
            progress: Callable[[str], None] = print) -> ThroughputResult:
    """``rounds`` pairs; even rounds run ipn_webhook first, odd rounds the bare function."""
    runs: list[ThroughputRun] = []
    for round_no in range(rounds):
        order = ("ipn_webhook", "bare") if round_no % 2 == 0 else ("bare", "ipn_webhook")
        for label in order:
            runs.append(run(label, round_no))
        pair = {r.server: r.load.rps for r in runs[-2:]}
        progress(f"  throughput round {round_no + 1}/{rounds}: ipn_webhook "
                 f"{pair['ipn_webhook']:.0f} req/s, bare {pair['bare']:.0f} req/s")
    return ThroughputResult(runs)


def table(result: ThroughputResult, concurrency: int, target: float,
          yes: Callable[[bool], str]) -> str:
    rows = ["| round | server | requests ok / sent | errors | requests/s | p50 ms | p99 ms "
            "| server CPU ms/request | emulator CPU ms/request | client CPU ms/request |",
            "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in result.runs:
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(r.load.errors.items())) or "0"
        if r.load.timed_out:
            errors += " (deadline hit)"
        rows.append(f"| {r.round_no + 1} | {r.server} | {r.load.ok} / {r.load.sent} | {errors} "
                    f"| {r.load.rps:.0f} | {r.load.p50:.1f} | {r.load.p99:.1f} "
                    f"| {r.server_cpu_ms:.2f} | {r.emulator_cpu_ms:.2f} | {r.client_cpu_ms:.2f} |")
    ratios = ", ".join(f"{x:.2f}" for x in result.round_ratios())
    ratio = result.ratio()
    medians = " / ".join(f"{result.median_cpu(s, 'server_cpu_ms'):.2f}"
                         for s in ("ipn_webhook", "bare"))
    rows += ["",
             f"Concurrency {concurrency}. Per-round ratios: {ratios}. Median server CPU per "
             f"request, ipn_webhook / bare: {medians} ms (the emulator's "
             f"{result.median_cpu('ipn_webhook', 'emulator_cpu_ms'):.2f} ms per task runs on "
             f"the same two cores here; on Google Cloud it is not on the function's).",
             "",
             f"ipn_webhook / bare throughput, median of {len(result.round_ratios())} rounds: "
             f"**{ratio:.2f}** (target ≥ {target}): {yes(ratio >= target)}"]
    return "\n".join(rows)


def variants(ipn: Variant, bare: Variant) -> Mapping[str, tuple[Variant, str]]:
    """The two servers with the text each one's answer must contain."""
    return {"ipn_webhook": (ipn, '"queued"'), "bare": (bare, "ok")}


__all__: Sequence[str] = ["ThroughputResult", "ThroughputRun", "measure", "one_run", "table",
                          "variants"]
