"""The benchmark: cold start of each function against its floor, ipn_webhook warm throughput.

    python -m bench.run [--runs 7] [--requests 2000] [--concurrency 16]

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

from bench import coldstart, report
from bench.fixtures import FulfilQueue, create_order, signed_notification
from bench.load import LoadResult, run_load
from bench.procs import Probe, Server, Variant
from local.seed import seed
from local.stack import HOST, REPO_ROOT, StackOptions, StackPorts, find_functions_framework, start_stack
from local.stack_config import function_threads

RESULTS = Path(__file__).resolve().parent / "results.md"
PYCACHE = REPO_ROOT / ".local-run" / "bench-pycache"
LOAD_DEADLINE = 60.0  # seconds, per load run


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _throughput(ff: str, variant: Variant, payment_id: str, requests_: int, warmup: int,
                concurrency: int, log_dir: Path, expect_text: str) -> LoadResult:
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
        result = run_load(url, batch, concurrency, LOAD_DEADLINE, expect_text=expect_text)
        if server.proc is None or server.proc.poll() is not None:
            raise server.failure("died under load")
        return result
    finally:
        server.stop()


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
    parser.add_argument("--warmup", type=int, default=200, help="warm-up requests (default 200)")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="run the servers with the environment as it is (with "
                             "PYTHONDONTWRITEBYTECODE=1 the product's own modules are then "
                             "compiled from source at every start)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--runs, --requests and --concurrency must be positive")
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

        _progress(f"throughput: {args.requests} notifications, {args.concurrency} threads")
        ipn_case = next(c for c in cases if c.name == "ipn_webhook")
        ipn = _throughput(ff, ipn_case.function, order.payment_id, args.requests, args.warmup,
                          args.concurrency, log_dir, expect_text='"queued"')
        bare = _throughput(ff, Variant("bare-load", coldstart.BARE.source, coldstart.BARE.target,
                                       {**env, **function_threads("ipn_webhook")}),
                           order.payment_id, args.requests, args.warmup,
                           args.concurrency, log_dir, expect_text="ok")
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
    load_md = report.load_table(ipn, bare, args.concurrency)
    modules_md = report.modules_section(diffs)
    samples_md = report.cold_samples(cold)
    breakdown_md = report.cold_breakdown(cold)
    console = (f"\n## Cold start (median of {args.runs}, ms: spawn → first 2xx on the real path)\n\n"
               f"{cold_md}\n\nMedians of spawn → listening (imports done) and listening → first "
               f"2xx (worker boot and the first request's own work):\n\n{breakdown_md}\n\n"
               f"## ipn_webhook warm throughput ({args.requests} requests)\n\n"
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
