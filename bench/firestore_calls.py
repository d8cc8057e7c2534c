"""CPU per Firestore read, the official client against the emulator: the streaming reads
(``DocumentReference.get``, ``Client.get_all``) next to the unary ones of
``shared.adapters.store.reads`` (``read``, ``read_all``, and plain unary reads one by one).

    .venv/bin/python -m bench.firestore_calls                   # starts its own emulator
    .venv/bin/python -m bench.firestore_calls --emulator 127.0.0.1:8085 --calls 400 --rounds 7

CPU is the process's (``time.process_time``: every thread, gRPC's included), per call, the
median over ``--rounds`` rounds that interleave the operations (each round runs every
operation ``--calls`` times after a short warm-up). One thread, no other call in flight: as
one request of a function does its reads. Wall time is not reported (the machine is shared).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.reads import read, read_all

WARM_UP = 20


def _document(i: int) -> dict[str, Any]:
    """About the size and shape of an order."""
    now = datetime.now(UTC)
    return {"order_id": f"order-{i}", "status": "pending", "amount": "200.00",
            "currency": "BRL", "created_at": now, "updated_at": now, "expires_at": now,
            "items": [{"product_id": "demo-product", "quantity": 2, "unit_price": "100.00",
                       "title": "Demo product"}],
            "last_payment_id": "123", "payment_ids": ["123"],
            "last_payment": {"id": "123", "status": "approved", "status_detail": "accredited"},
            "history": [{"status": "paid", "at": now, "by": "fulfill"}]}


def operations(db: Any) -> dict[str, Callable[[], object]]:
    col = db.collection(f"bench-{uuid.uuid4().hex[:8]}")
    refs = [col.document(f"doc-{i}") for i in range(5)]
    for i, ref in enumerate(refs):
        ref.set(_document(i))
    missing = col.document("missing")

    def get_all(n: int) -> Callable[[], object]:
        return lambda: list(db.get_all(refs[:n], retry=RETRY, timeout=CALL_TIMEOUT))

    def unary_each(n: int) -> Callable[[], object]:
        return lambda: [read(r) for r in refs[:n]]

    def read_n(n: int) -> Callable[[], object]:
        return lambda: read_all(refs[:n])

    return {
        "DocumentReference.get": lambda: refs[0].get(retry=RETRY, timeout=CALL_TIMEOUT),
        "DocumentReference.get, missing": lambda: missing.get(retry=RETRY, timeout=CALL_TIMEOUT),
        "read": lambda: read(refs[0]),
        "read, missing": lambda: read(missing),
        **{f"get_all of {n}": get_all(n) for n in (2, 3, 5)},
        **{f"{n} unary reads": unary_each(n) for n in (3, 5)},
        **{f"read_all of {n}": read_n(n) for n in (2, 3, 5)},
    }


def cpu_ms_per_call(op: Callable[[], object], calls: int) -> float:
    for _ in range(WARM_UP):
        op()
    start = time.process_time()
    for _ in range(calls):
        op()
    return (time.process_time() - start) * 1000.0 / calls


def measure(db: Any, calls: int, rounds: int) -> dict[str, list[float]]:
    ops = operations(db)
    figures: dict[str, list[float]] = {name: [] for name in ops}
    names = list(ops)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:  # rotate the order
            figures[name].append(cpu_ms_per_call(ops[name], calls))
    return figures


def table(figures: dict[str, list[float]]) -> str:
    lines = ["| operation | CPU ms per call (median) | min | max |", "|---|---:|---:|---:|"]
    for name, values in figures.items():
        lines.append(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f} | "
                     f"{max(values):.2f} |")
    return "\n".join(lines)


@contextlib.contextmanager
def emulator(host: str | None) -> Iterator[str]:
    """``host`` if given, else a Firestore emulator of our own for the run."""
    if host:
        yield host
        return
    from local.firestore_emulator import firestore_service
    from local.processes import free_ports
    from local.supervisor import Stack

    port = free_ports(1)[0]
    with tempfile.TemporaryDirectory(prefix="bench-firestore-") as run_dir:
        stack = Stack([firestore_service(port)], Path(run_dir))
        stack.start()
        try:
            yield f"127.0.0.1:{port}"
        finally:
            stack.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--emulator", help="host:port of a running Firestore emulator")
    parser.add_argument("--calls", type=int, default=300, help="calls per operation and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    import grpc
    from google.cloud import firestore as firestore_pkg

    with emulator(args.emulator) as host:
        os.environ["FIRESTORE_EMULATOR_HOST"] = host  # read when the client is built
        db = firestore_pkg.Client(project=f"bench-{uuid.uuid4().hex[:8]}")
        figures = measure(db, args.calls, args.rounds)
    print(f"Python {sys.version.split()[0]}, google-cloud-firestore {firestore_pkg.__version__}, "
          f"grpcio {grpc.__version__}; {args.rounds} rounds x {args.calls} calls, one thread")
    print(table(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
