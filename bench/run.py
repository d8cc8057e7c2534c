"""The benchmark: cold start of each function against its floor, ipn_webhook warm throughput.

    python -m bench.run [--runs 7] [--requests 2000] [--concurrency 16] [--throughput-rounds 3]

Starts the local stack on free ports (stopped at the end), seeds the catalog, creates one
order through create_payment, pauses the fulfil queue, then measures (see bench/README.md).
Prints two markdown tables and writes them to bench/results.md.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench import coldstart, report, throughput
from bench.fixtures import FulfilQueue, create_order
from bench.procs import Variant
from local.seed import seed
from local.stack import REPO_ROOT, StackOptions, StackPorts, find_functions_framework, start_stack
from local.stack_config import function_threads

RESULTS = Path(__file__).resolve().parent / "results.md"
PYCACHE = REPO_ROOT / ".local-run" / "bench-pycache"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _without_dont_write(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _server_env(env: Mapping[str, str], bytecode_cache: bool
                ) -> tuple[dict[str, str], Callable[[Mapping[str, str]], dict[str, str]] | None]:
    """The servers' environment, and the one of the untimed warm-up round.

    With ``bytecode_cache`` every module (the product's as well as the libraries') is loaded
    from bytecode kept in ``PYCACHE`` (written by the warm-up round, read by the timed ones),
    as site-packages already are: a start measures imports, not compiling source.
    """
    if not bytecode_cache:
        return dict(env), None
    timed = {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE), "PYTHONDONTWRITEBYTECODE": "1"}
    return timed, _without_dont_write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11, help="cold starts per variant (default 11)")
    parser.add_argument("--requests", type=int, default=2000,
                        help="timed notifications per throughput run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--throughput-rounds", type=int, default=3,
                        help="alternating ipn_webhook/bare throughput pairs (default 3)")
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests (default 200)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run the servers with the environment as it is (with "
                             "PYTHONDONTWRITEBYTECODE=1 the product's own modules are then "
                             "compiled from source at every start)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    args = parser.parse_args(argv)
    if (args.runs < 1 or args.requests < 1 or args.concurrency < 1 or args.warmup < 0
            or args.throughput_rounds < 1):
        parser.error("--runs, --requests, --concurrency and --throughput-rounds must be positive")
    command = "python -m bench.run" + "".join(
        " " + shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))

    started = time.monotonic()
    machine = report.Machine.here()
    run_dir = REPO_ROOT / ".local-run" / time.strftime("bench-%Y%m%d-%H%M%S")
    log_dir = run_dir / "bench"
    log_dir.mkdir(parents=True, exist_ok=True)
    ff = find_functions_framework()

    _progress(f"starting the local stack (logs: {run_dir})")
    stack = start_stack(StackPorts.free(), StackOptions(), run_dir=run_dir)
    queue: FulfilQueue | None = None
    try:
        seed(stack.project, stack.endpoints.firestore_host)
        order = create_order(stack)
        _progress(f"order {order.order_id}, payment {order.payment_id}")
        queue = FulfilQueue(stack)
        queue.pause()  # tasks enqueued from here on wait: fulfill must not compete for CPU
        env, warm_env = _server_env(stack.function_env, not args.no_bytecode_cache)
        cases = coldstart.cases(env, order.order_id, order.payment_id)

        _progress(f"cold starts: {args.runs} rounds of {1 + 2 * len(cases)} variants")
        cold = coldstart.measure(ff, cases, env, args.runs, log_dir, _progress, warm_env)

        _progress(f"throughput: {args.throughput_rounds} rounds of {args.requests} "
                  f"notifications each for ipn_webhook and bare, {args.concurrency} threads")
        ipn_case = next(c for c in cases if c.name == "ipn_webhook")
        servers = throughput.variants(
            ipn_case.function,
            Variant("bare-load", coldstart.BARE.source, coldstart.BARE.target,
                    {**env, **function_threads("ipn_webhook")}))
        emulator_pgid = stack.pgids.get("cloudtasks")

        def run_one(label: str, round_no: int) -> throughput.ThroughputRun:
            variant, expect = servers[label]
            return throughput.one_run(ff, variant, label, round_no, order.payment_id,
                                      args.requests, args.warmup, args.concurrency, log_dir,
                                      expect, emulator_pgid)

        rates = throughput.measure(args.throughput_rounds, run_one, _progress)
        queue.purge()
        stack.check_alive()

        _progress("modules beyond each floor")
        diffs = [coldstart.module_diff(case) for case in cases]
    finally:
        if queue is not None:
            queue.close()
        stack.stop()
    elapsed = time.monotonic() - started

    bytecode = ("compiled from source at each start where PYTHONDONTWRITEBYTECODE is set"
                if args.no_bytecode_cache else f"every module from a warm cache ({PYCACHE.name})")
    cold_md = report.cold_table(cold, cases)
    load_md = throughput.table(rates, args.concurrency, report.THROUGHPUT_TARGET, report.yes)
    modules_md = report.modules_section(diffs)
    samples_md = report.cold_samples(cold)
    breakdown_md = report.cold_breakdown(cold)
    console = (f"\n## Cold start (median of {args.runs}, ms: spawn → first 2xx on the real path)\n\n"
               f"{cold_md}\n\nMedians of spawn → listening (imports done) and listening → first "
               f"2xx (worker boot and the first request's own work):\n\n{breakdown_md}\n\n"
               f"## ipn_webhook warm throughput ({args.throughput_rounds} alternating rounds of "
               f"{args.requests} requests each)\n\n"
               f"{load_md}\n\n## Modules each function loads beyond its floor\n\n{modules_md}\n\n"
               f"Bytecode: {bytecode}.\nBenchmark wall time: {elapsed:.0f} s\n")
    print(console)
    args.out.write_text(
        "# Benchmark results\n\n"
        f"{machine.describe()}\n- command: `{command}`\n- bytecode: {bytecode}\n"
        f"- wall time: {elapsed:.0f} s\n"
        f"{console.split('Benchmark wall time')[0]}"
        f"## Cold start samples\n\nms to the first 2xx (ms to listening), in run order:\n\n"
        f"{samples_md}\n",
        encoding="utf-8")
    _progress(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
