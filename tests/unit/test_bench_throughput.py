"""bench/throughput.py: alternating rounds and the median of the per-round ratios."""

from __future__ import annotations

from bench.load import LoadResult
from bench.report import yes
from bench.throughput import ThroughputResult, ThroughputRun, measure, table


def _run(server: str, round_no: int, rps: float) -> ThroughputRun:
    load = LoadResult(sent=100, ok=100, errors={}, seconds=100 / rps, latencies_ms=[1.0],
                      timed_out=False)
    return ThroughputRun(server, round_no, load, 2.0, 1.0, 1.5)


def test_rounds_alternate_which_server_goes_first() -> None:
    calls: list[tuple[str, int]] = []

    def run(label: str, round_no: int) -> ThroughputRun:
        calls.append((label, round_no))
        return _run(label, round_no, 100.0)

    measure(3, run, progress=lambda _: None)
    assert calls == [("ipn_webhook", 0), ("bare", 0), ("bare", 1), ("ipn_webhook", 1),
                     ("ipn_webhook", 2), ("bare", 2)]


def test_the_ratio_is_the_median_of_the_paired_rounds() -> None:
    result = ThroughputResult([
        _run("ipn_webhook", 0, 200.0), _run("bare", 0, 400.0),  # 0.50
        _run("bare", 1, 400.0), _run("ipn_webhook", 1, 120.0),  # 0.30 (a disturbed round)
        _run("ipn_webhook", 2, 220.0), _run("bare", 2, 400.0),  # 0.55
    ])
    assert [round(r, 2) for r in result.round_ratios()] == [0.5, 0.3, 0.55]
    assert round(result.ratio(), 2) == 0.5
    text = table(result, 16, 0.5, yes)
    assert "median of 3 rounds: **0.50**" in text
    assert text.rstrip().endswith("yes")


def test_a_ratio_under_the_target_is_reported_as_missed() -> None:
    result = ThroughputResult([_run("ipn_webhook", 0, 100.0), _run("bare", 0, 400.0)])
    assert table(result, 16, 0.5, yes).rstrip().endswith("**no**")
