"""CPU the local Cloud Tasks emulator spends per CreateTask (and per dispatched task).

    python -m bench.emulator_cpu [--tasks 3000] [--threads 16] [--mode paused|running|both]
                                 [--backlog N]

Starts the emulator as local/stack.py does (its own process, the stack's fulfil queue),
creates ``--tasks`` named OIDC tasks, shaped like ipn_webhook's, through the product's adapter
(``shared.adapters.tasks``) from ``--threads`` threads, and reads the emulator process's CPU
(utime + stime from /proc) before and after. ``paused``: the queue is paused, as bench/run.py
does, so only CreateTask is measured. ``running``: the queue runs and the target (in this
process) answers 200; the figure covers CreateTask plus the dispatch, and is read once every
task has been delivered and the queue is empty. ``--backlog N`` first fills the paused queue
with N tasks (not measured), as successive ``make bench`` runs do.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from local.processes import free_ports
from local.stack_config import StackOptions
from shared.adapters.tasks import HttpTask, TaskQueue

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "demo-mp-local"
LOCATION = "us-central1"
SA = "tasks-invoker@demo-mp-local.iam.gserviceaccount.com"
CLK_TCK = os.sysconf("SC_CLK_TCK")


class _Target(ThreadingHTTPServer):
    daemon_threads = True
    received = 0
    lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Target
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        with self.server.lock:
            self.server.received += 1

    def log_message(self, format: str, *args: object) -> None:
        pass


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _wait(check: object, deadline: float, what: str) -> None:
    end = time.monotonic() + deadline
    while not callable(check) or not check():
        if time.monotonic() > end:
            raise TimeoutError(what)
        time.sleep(0.05)


@contextmanager
def emulator() -> Iterator[tuple[subprocess.Popen[bytes], str, str]]:
    """The emulator in its own process, as local/stack.py starts it."""
    grpc_port, http_port = free_ports(2)
    argv = [sys.executable, "-m", "local.cloudtasks_emulator", "--grpc-port", str(grpc_port),
            "--http-port", str(http_port), "--project", PROJECT, "--location", LOCATION,
            "--queue", StackOptions().fulfill_queue]
    proc = subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.DEVNULL)
    http = f"http://127.0.0.1:{http_port}"

    def ready() -> bool:
        try:
            with urllib.request.urlopen(http + "/healthz", timeout=1) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    try:
        _wait(ready, 30, "emulator did not start")
        yield proc, f"127.0.0.1:{grpc_port}", http
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(mode: str, tasks: int, threads: int, backlog: int = 0) -> float:
    """ms of emulator CPU per task in ``mode``."""
    target = _Target(("127.0.0.1", 0), _Handler)
    threading.Thread(target=target.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{target.server_address[1]}/fulfill"
    try:
        with emulator() as (proc, grpc_target, _):
            queue = TaskQueue(PROJECT, LOCATION, grpc_target)
            path = queue.queue_path("fulfill")
            client = queue.client()
            if mode == "paused":
                client.pause_queue(name=path)

            def create(i: int) -> None:
                body = (b'{"topic":"payment","resource_id":"%d","notification_id":"n-%d"}'
                        % (10**9 + i, i))
                created = queue.enqueue(HttpTask(
                    queue="fulfill", task_id=f"bench-{os.getpid()}-{mode}-{i}", url=url,
                    body=body, headers={"Content-Type": "application/json"},
                    oidc_service_account=SA, oidc_audience=url, dispatch_deadline_seconds=60))
                if not created:
                    raise RuntimeError("task already existed")

            for i in range(-50, 0):  # warm up the channel and the server's threads
                create(i)
            if mode == "paused" and backlog:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(create, range(tasks, tasks + backlog)))
            _wait(lambda: mode == "paused" or target.received >= 50, 60, "warm-up not delivered")
            before = cpu_seconds(proc.pid)
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(create, range(tasks)))
            if mode == "running":
                _wait(lambda: target.received >= tasks + 50, 300, "tasks not delivered")
                _wait(lambda: not list(client.list_tasks(request={"parent": path, "page_size": 1})), 60,
                      "queue not empty")
            spent = cpu_seconds(proc.pid) - before
            if mode == "paused":
                count = sum(1 for _ in client.list_tasks(request={"parent": path, "page_size": 1000}))
                if count != tasks + backlog + 50:
                    raise RuntimeError(f"{count} tasks held, want {tasks + backlog + 50}")
    finally:
        target.shutdown()
        target.server_close()
    return spent * 1000 / tasks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--mode", choices=("paused", "running", "both"), default="both")
    parser.add_argument("--backlog", type=int, default=0, help="paused tasks created first")
    args = parser.parse_args(argv)
    modes = ("paused", "running") if args.mode == "both" else (args.mode,)
    for mode in modes:
        per_task = measure(mode, args.tasks, args.threads, args.backlog if mode == "paused" else 0)
        backlog = f", backlog {args.backlog}" if mode == "paused" and args.backlog else ""
        print(f"{mode}: {per_task:.3f} ms emulator CPU per task "
              f"({args.tasks} tasks, {args.threads} threads{backlog})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
