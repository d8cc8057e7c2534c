"""Cold start: spawn → first good answer on the real path, for each function, its floor and bare.

Also: which modules a function's import loads that its floor's does not (``sys.modules``
top-level names, and the self import time ``-X importtime`` attributes to them).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.fixtures import fulfil_task_body, signed_notification
from bench.procs import Probe, Variant, cold_start_ms
from local.stack import REPO_ROOT
from local.stack_config import function_threads

FUNCTIONS = ("create_payment", "ipn_webhook", "fulfill")
BARE = Variant("bare", "bench/bare_function.py", "bare", {})
OWN_PACKAGES = frozenset({"functions", "shared", "bench"})


@dataclass(frozen=True)
class FunctionCase:
    name: str
    function: Variant
    floor: Variant
    probe: Probe

    @property
    def floor_probe(self) -> Probe:
        """The same request; the floor's answer is a plain ``ok``."""
        return replace(self.probe, expect_text=b"")


def cases(env: Mapping[str, str], order_id: str, payment_id: str) -> list[FunctionCase]:
    """The three functions, each with its floor and the request that must answer 200."""
    fulfill_env = {**env, "CALLER_AUTH": "off"}  # the token check off (the stack's emulators are set)
    envs = {"create_payment": dict(env), "ipn_webhook": dict(env), "fulfill": fulfill_env}
    for name in envs:  # each function and its floor with the gunicorn threads it is deployed with
        envs[name].update(function_threads(name))

    def notification() -> tuple[bytes | None, dict[str, str]]:
        n = signed_notification(payment_id)
        return n.body, n.headers

    def task() -> tuple[bytes | None, dict[str, str]]:
        return fulfil_task_body(payment_id), {"Content-Type": "application/json"}

    def nothing() -> tuple[bytes | None, dict[str, str]]:
        return None, {}

    probes = {
        "create_payment": Probe("GET", f"/orders/{order_id}", nothing),
        "ipn_webhook": Probe("POST", signed_notification(payment_id).path, notification,
                             expect_text=b'"queued"'),
        "fulfill": Probe("POST", "/", task),
    }
    return [
        FunctionCase(
            name,
            Variant(name, f"entry_{name}.py", name, envs[name]),
            Variant(f"floor_{name}", f"bench/floor_{name}.py", "bare", envs[name]),
            probes[name],
        )
        for name in FUNCTIONS
    ]


@dataclass
class ColdStartResult:
    samples: dict[str, list[float]] = field(default_factory=dict)  # variant -> ms to first 2xx
    listening: dict[str, list[float]] = field(default_factory=dict)  # variant -> ms to listening

    def median(self, name: str) -> float:
        return float(statistics.median(self.samples[name]))

    def median_listening(self, name: str) -> float:
        return float(statistics.median(self.listening[name]))


def measure(ff: str, function_cases: Sequence[FunctionCase], env: Mapping[str, str], runs: int,
            log_dir: Path, progress: Callable[[str], None] = print,
            warm_env: Callable[[Mapping[str, str]], dict[str, str]] | None = None,
            ) -> ColdStartResult:
    """``runs`` rounds; each round starts every variant once, the order rotated per round.

    An untimed warm-up round runs first, with ``warm_env(env)`` as each variant's environment.
    """
    bare = Variant(BARE.name, BARE.source, BARE.target, dict(env))
    jobs: list[tuple[Variant, Probe]] = [(bare, Probe("GET", "/", lambda: (None, {})))]
    for case in function_cases:
        jobs.append((case.function, case.probe))
        jobs.append((case.floor, case.floor_probe))
    result = ColdStartResult({variant.name: [] for variant, _ in jobs},
                             {variant.name: [] for variant, _ in jobs})
    # An untimed round first: fills the bytecode cache (``warm_env``) and the page cache.
    for variant, probe in jobs:
        env_ = warm_env(variant.env) if warm_env is not None else variant.env
        cold_start_ms(ff, Variant(variant.name, variant.source, variant.target, env_), probe,
                      log_dir)
    progress("  warm-up round done (untimed)")
    for round_no in range(runs):
        shift = round_no % len(jobs)
        for variant, probe in jobs[shift:] + jobs[:shift]:
            listening, answered = cold_start_ms(ff, variant, probe, log_dir)
            result.listening[variant.name].append(listening)
            result.samples[variant.name].append(answered)
        progress(f"  cold start round {round_no + 1}/{runs}: " + ", ".join(
            f"{name} {values[-1]:.0f}" for name, values in result.samples.items()))
    return result


# --------------------------------------------------------------------------------------
# Modules loaded beyond the floor

_PROBE_SCRIPT = """
import importlib.util, json, sys, time
import functions_framework  # what the server has loaded before it imports the source
name, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location(name, path)
module = importlib.util.module_from_spec(spec)
sys.modules[name] = module
spec.loader.exec_module(module)
load_ms = (time.perf_counter() - t0) * 1000.0
print("LOAD_MS=" + repr(load_ms))
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""


@dataclass(frozen=True)
class ModuleSet:
    modules: frozenset[str]  # every key of sys.modules
    self_us: Mapping[str, int]  # -X importtime self time per module
    load_ms: float  # wall time of loading the source as functions-framework does (with -X importtime)

    @property
    def top_level(self) -> frozenset[str]:
        return frozenset(m.split(".")[0] for m in self.modules)


def loaded_modules(source: str, env: Mapping[str, str]) -> ModuleSet:
    name = Path(source).stem
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", _PROBE_SCRIPT, name, source],
        cwd=str(REPO_ROOT), env=dict(env), capture_output=True, text=True, timeout=60,
        check=False)
    lines = proc.stdout.splitlines()
    line = next((ln for ln in reversed(lines) if ln.startswith("MODULES=")), None)
    load = next((ln for ln in reversed(lines) if ln.startswith("LOAD_MS=")), None)
    if proc.returncode != 0 or line is None or load is None:
        raise RuntimeError(f"importing {source} failed ({proc.returncode}):\n"
                           f"{proc.stderr[-2000:]}")
    self_us: dict[str, int] = {}
    for row in proc.stderr.splitlines():
        if not row.startswith("import time:"):
            continue
        parts = row[len("import time:"):].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        self_us[parts[2].strip()] = int(parts[0])
    return ModuleSet(frozenset(json.loads(line[len("MODULES="):])), self_us,
                     float(load[len("LOAD_MS="):]))


def fastest_load(source: str, env: Mapping[str, str], repeats: int) -> ModuleSet:
    """The run (of ``repeats``) that loaded ``source`` fastest: the least disturbed one."""
    return min((loaded_modules(source, env) for _ in range(max(1, repeats))),
               key=lambda m: m.load_ms)


@dataclass(frozen=True)
class ModuleDiff:
    function: str
    extra_top_level: list[str]  # third-party and stdlib top-level names beyond the floor
    own_top_level: list[str]  # the product's own packages (expected)
    extra_google: list[str]  # google.* sub-packages beyond the floor (google is a namespace)
    extra_modules: int  # sys.modules entries beyond the floor
    extra_import_ms: float  # -X importtime self time of those entries
    top_costs: list[tuple[str, float]]  # the costliest extra top-level names (ms)
    top_modules: list[tuple[str, float]]  # the costliest extra modules (self ms)
    load_ms: float  # loading the function's source (imports and module-level code)
    floor_load_ms: float  # loading the floor's source


def _group(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:3]) if parts[0] == "google" else parts[0]


def module_diff(case: FunctionCase, repeats: int = 3) -> ModuleDiff:
    function = fastest_load(case.function.source, case.function.env, repeats)
    floor = fastest_load(case.floor.source, case.floor.env, repeats)
    own = OWN_PACKAGES | {Path(case.function.source).stem}
    extra_modules = sorted(function.modules - floor.modules)
    extra_top = sorted(function.top_level - floor.top_level)
    floor_google = {_group(m) for m in floor.modules if m.startswith("google.")}
    extra_google = sorted({_group(m) for m in extra_modules if m.startswith("google.")}
                          - floor_google)
    costs: dict[str, float] = {}
    for module in extra_modules:
        group = _group(module)
        costs[group] = costs.get(group, 0.0) + function.self_us.get(module, 0) / 1000.0
    top_costs = sorted(costs.items(), key=lambda kv: -kv[1])[:8]
    top_modules = sorted(((m, function.self_us.get(m, 0) / 1000.0) for m in extra_modules),
                         key=lambda kv: -kv[1])[:6]
    return ModuleDiff(
        function=case.name,
        extra_top_level=[m for m in extra_top if m not in own],
        own_top_level=[m for m in extra_top if m in own],
        extra_google=extra_google,
        extra_modules=len(extra_modules),
        extra_import_ms=sum(function.self_us.get(m, 0) for m in extra_modules) / 1000.0,
        top_costs=top_costs,
        top_modules=top_modules,
        load_ms=function.load_ms,
        floor_load_ms=floor.load_ms,
    )
