"""Command line: ``python -m local.cloudtasks_emulator [options]``; SIGTERM/SIGINT stop it."""

from __future__ import annotations

import argparse
import logging
import sys

from local.processes import stop_requested

from .queues import InvalidQueueConfig, QueueSpec
from .server import start_emulator
from .task_input import SERVICE_MIN_DISPATCH_DEADLINE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local.cloudtasks_emulator", description="Local Cloud Tasks emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--grpc-port", type=int, default=8123)
    parser.add_argument("--http-port", type=int, default=8124, help="certs, healthz, admin")
    parser.add_argument("--project", default="demo-mp-local")
    parser.add_argument("--location", default="us-central1")
    parser.add_argument(
        "--queue",
        action="append",
        default=[],
        metavar="NAME[:k=v,...]",
        help="pre-create a queue; keys: max_attempts, min_backoff, max_backoff, max_doublings, "
        "max_retry_duration, max_concurrent_dispatches (seconds as floats); repeatable",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies retry delays (backoff, Retry-After)",
    )
    parser.add_argument("--reservation-seconds", type=float, default=3600.0)
    parser.add_argument(
        "--min-dispatch-deadline",
        type=float,
        default=SERVICE_MIN_DISPATCH_DEADLINE,
        help="smallest accepted dispatch_deadline in seconds (the service's is 15)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGTERM or SIGINT."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s cloudtasks-emulator %(message)s",
    )
    try:
        specs = [QueueSpec.parse(text) for text in args.queue]
        if args.time_scale <= 0:
            raise ValueError("--time-scale must be > 0")
        handle = start_emulator(
            host=args.host,
            grpc_port=args.grpc_port,
            http_port=args.http_port,
            project=args.project,
            location=args.location,
            queues=specs,
            time_scale=args.time_scale,
            reservation_seconds=args.reservation_seconds,
            min_dispatch_deadline=args.min_dispatch_deadline,
        )
    except (InvalidQueueConfig, ValueError, OSError, RuntimeError) as exc:
        print(f"cloudtasks-emulator: {exc}", file=sys.stderr)
        return 2
    stop = stop_requested()
    logging.getLogger("cloudtasks_emulator").info(
        "ready grpc=%s http=%s queues=%s time_scale=%g",
        handle.grpc_target,
        handle.http_url,
        ",".join(spec.queue_id for spec in specs) or "-",
        args.time_scale,
    )
    while not stop.wait(0.5):
        pass
    handle.stop()
    logging.getLogger("cloudtasks_emulator").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
