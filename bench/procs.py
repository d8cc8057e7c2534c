"""Starting and stopping functions-framework servers, and timing their first good answer.

Each server runs in its own session (process group) with its output in a log file; it is
stopped by its own process group id only.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from local.console import tail_file
from local.processes import free_ports, process_group_members
from local.stack import HOST, REPO_ROOT

POLL_INTERVAL = 0.005  # seconds between connection attempts while the server starts
START_TIMEOUT = 60.0  # seconds from spawn to the first good answer, at most
REQUEST_TIMEOUT = 30.0  # one request (the first one waits for the worker to boot)
STOP_GRACE = 5.0


@dataclass(frozen=True)
class Probe:
    """One HTTP request; ``make`` is called per attempt (a fresh notification id each time)."""

    method: str
    path: str
    make: Callable[[], tuple[bytes | None, dict[str, str]]]
    expect: int = 200
    expect_text: bytes = b""  # the answer's body must contain it


@dataclass(frozen=True)
class Variant:
    """A function server: ``source`` relative to the repo root, ``target`` its function."""

    name: str
    source: str
    target: str
    env: Mapping[str, str]


class BenchError(RuntimeError):
    pass


class Server:
    def __init__(self, ff: str, variant: Variant, log_dir: Path, port: int | None = None) -> None:
        self.variant = variant
        self.port = port if port is not None else free_ports(1)[0]
        self.log_path = log_dir / f"{variant.name}.log"
        self._ff = ff
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> float:
        """Start the server; returns the ``perf_counter`` time just before the spawn."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        argv = [self._ff, f"--target={self.variant.target}", f"--source={self.variant.source}",
                f"--host={HOST}", f"--port={self.port}"]
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            argv, env=dict(self.variant.env), cwd=str(REPO_ROOT), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
        return t0

    def failure(self, reason: str) -> BenchError:
        return BenchError(f"{self.variant.name} (port {self.port}): {reason}\n--- "
                          f"{self.log_path} ---\n{tail_file(self.log_path, 30)}")

    def first_answer(self, probe: Probe, timeout: float = START_TIMEOUT) -> tuple[float, float]:
        """Poll until ``probe`` gets an answer.

        Returns the ``perf_counter`` times of the first accepted connection (the server is
        listening: functions-framework has imported the source) and of the answer.

        Connection refused/reset (not listening yet) is retried every ``POLL_INTERVAL``; any
        answer that is not ``probe.expect`` is an error.
        """
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        connected: float | None = None
        while True:
            if self.proc.poll() is not None:
                raise self.failure(f"exited with {self.proc.returncode} before answering")
            if time.monotonic() >= deadline:
                raise self.failure(f"no answer within {timeout:g} s")
            conn = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
            try:
                try:
                    conn.connect()
                except (ConnectionRefusedError, ConnectionResetError):
                    time.sleep(POLL_INTERVAL)
                    continue
                if connected is None:
                    connected = time.perf_counter()
                body, headers = probe.make()
                try:
                    conn.request(probe.method, probe.path, body=body, headers=headers)
                    response = conn.getresponse()
                    data = response.read()
                except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
                    time.sleep(POLL_INTERVAL)
                    continue
                done = time.perf_counter()
            finally:
                conn.close()
            if response.status != probe.expect or probe.expect_text not in data:
                raise self.failure(f"{probe.method} {probe.path} answered {response.status}: "
                                   f"{data[:300]!r}")
            assert connected is not None
            return connected, done

    def wait_ready(self, probe: Probe) -> None:
        self.first_answer(probe)

    def stop(self) -> None:
        """SIGKILL the server's process group (gunicorn master and worker): nothing of a
        benchmark server needs a graceful stop, and a quick one keeps the rounds short."""
        proc = self.proc
        if proc is not None:
            pgid = proc.pid  # start_new_session: the leader's pid is the group id
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE)
            deadline = time.monotonic() + STOP_GRACE
            while process_group_members(pgid) and time.monotonic() < deadline:
                time.sleep(0.005)  # the worker, reparented, is gone a moment later
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def cold_start_ms(ff: str, variant: Variant, probe: Probe, log_dir: Path) -> tuple[float, float]:
    """Spawn, time the first ``probe.expect`` answer, stop.

    Returns milliseconds from the spawn to the first accepted connection and to the answer.
    """
    server = Server(ff, variant, log_dir)
    try:
        t0 = server.spawn()
        connected, done = server.first_answer(probe)
        return (connected - t0) * 1000.0, (done - t0) * 1000.0
    finally:
        server.stop()
