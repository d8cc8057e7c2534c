"""Markdown tables for the console and bench/results.md."""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bench.coldstart import ColdStartResult, FunctionCase, ModuleDiff

COLD_TARGET = 1.15  # function / floor, at most
THROUGHPUT_TARGET = 0.5  # ipn_webhook / bare requests per second, at least


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def cold_table(result: ColdStartResult, cases: Sequence[FunctionCase]) -> str:
    bare = result.median("bare")
    rows = ["| function | cold start median ms | floor ms | bare ms | ratio to floor "
            "| ratio to bare | target met (≤ 1.15x floor) | per-round ratio to floor, median |",
            "|---|---:|---:|---:|---:|---:|---|---:|"]
    for case in cases:
        fn, floor = result.median(case.function.name), result.median(case.floor.name)
        ratio = fn / floor
        paired = statistics.median(
            f / fl for f, fl in zip(result.samples[case.function.name],
                                     result.samples[case.floor.name], strict=True))
        rows.append(f"| {case.name} | {fn:.0f} | {floor:.0f} | {bare:.0f} | {ratio:.3f} "
                    f"| {fn / bare:.2f} | {yes(ratio <= COLD_TARGET)} | {paired:.3f} |")
    return "\n".join(rows)


def cold_breakdown(result: ColdStartResult) -> str:
    """Where the time goes: spawn → listening (imports, app creation) → first 2xx answer."""
    rows = ["| variant | listening ms | listening → first 2xx ms | total ms | min total ms |",
            "|---|---:|---:|---:|---:|"]
    for name, totals in result.samples.items():
        after = statistics.median(t - lt for t, lt in zip(totals, result.listening[name], strict=True))
        rows.append(f"| {name} | {result.median_listening(name):.0f} | {after:.0f} "
                    f"| {result.median(name):.0f} | {min(totals):.0f} |")
    return "\n".join(rows)


def cold_samples(result: ColdStartResult) -> str:
    """Every sample as ``total (listening)``, in run order."""
    return "\n".join(
        f"- {name}: " + ", ".join(f"{v:.0f} ({lt:.0f})"
                                  for v, lt in zip(values, result.listening[name], strict=True))
        for name, values in result.samples.items())


def modules_section(diffs: Sequence[ModuleDiff]) -> str:
    lines = []
    for d in diffs:
        lines.append(f"- **{d.function}**: loading its source takes {d.load_ms:.0f} ms, its "
                     f"floor's {d.floor_load_ms:.0f} ms ({d.load_ms - d.floor_load_ms:+.0f} ms; "
                     f"fastest of 3, under `-X importtime`); {d.extra_modules} modules beyond "
                     f"the floor, {d.extra_import_ms:.0f} ms of their import self time (the load "
                     f"times also count module-level code, e.g. clients built at import).")
        lines.append(f"  - top-level packages: {', '.join(d.extra_top_level) or '(none)'}"
                     f" (own: {', '.join(d.own_top_level) or '-'})")
        lines.append(f"  - google.* packages: {', '.join(d.extra_google) or '(none)'}")
        costs = ", ".join(f"{name} {ms:.0f} ms" for name, ms in d.top_costs if ms >= 0.5)
        lines.append(f"  - costliest: {costs or '(nothing above 0.5 ms)'}")
        modules = ", ".join(f"{name} {ms:.1f} ms" for name, ms in d.top_modules if ms >= 0.5)
        lines.append(f"  - costliest modules (self): {modules or '(nothing above 0.5 ms)'}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Machine:
    date: str
    nproc: int
    python: str
    platform: str

    @classmethod
    def here(cls) -> Machine:
        return cls(time.strftime("%Y-%m-%d %H:%M:%S %Z"), os.cpu_count() or 0,
                   sys.version.split()[0], platform.platform())

    def describe(self) -> str:
        return (f"- date: {self.date}\n- machine: nproc {self.nproc}, Python {self.python}, "
                f"{self.platform}")
