"""A small process supervisor: starts services in order, restarts or reports the dead ones,
stops them all. Generic: the local stack's layout (which services, ports, environment) is
``local.stack``; this module knows only ``ServiceSpec``.

Each service runs in its own process group (``start_new_session``) with stdout/stderr going
to ``<run_dir>/<name>.log`` (and, optionally, prefixed to the console). Services start in
order; each is waited for (an HTTP readiness URL) before the next one starts, and a service
that dies or times out is reported with the tail of its log. Stopping sends SIGTERM to every
process group (gunicorn masters get SIGINT, to themselves only), then SIGKILL to the group
after a grace period, and waits until no member of any group is left (checked by scanning
``/proc``, so grandchildren count too). Linux's parent-death signal stops the services if the
supervisor itself is killed.

While supervising (``wait``), a service with a ``RestartPolicy`` (every function process) that
dies is restarted after a back-off, with a log line, once what is left of its process group is
killed; any other service's death (the emulators, the simulator: their state is in memory)
stops the whole stack. ``state_file`` (make dev: ``.local-run/stack.json``) holds
``{"ports": {...}, "pids": {...}}`` and is rewritten whenever a pid changes.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from local.console import line_prefix, pump, say, tail_file
from local.processes import (
    LOOPBACK,
    PREEXEC,
    describe_exit,
    port_in_use,
    process_group_members,
    signal_group,
    signals_blocked,
)


class StackError(RuntimeError):
    """A service failed to start, or died while the stack was running."""

    def __init__(self, service: str, reason: str, log_path: Path | None, tail: str) -> None:
        self.service = service
        self.reason = reason
        self.log_path = log_path
        self.tail = tail
        message = f"service {service!r} {reason}"
        if log_path is not None:
            message += f"\n--- last lines of {log_path} ---\n{tail or '(log is empty)'}\n---"
        super().__init__(message)


class ServiceStartError(StackError):
    """A service exited or did not become ready in time."""


class ServiceDied(StackError):
    """A service exited while the stack was running."""


# --------------------------------------------------------------------------------------
# Service description


@dataclass(frozen=True)
class RestartPolicy:
    """Restart a service that exits while the stack runs (instead of stopping the stack).

    The n-th consecutive restart waits ``initial_backoff * 2**(n-1)`` seconds, at most
    ``max_backoff``; a service that ran ``stable_after`` seconds before dying starts over at
    ``initial_backoff``. What is left of its process group is killed before it is restarted.
    """

    initial_backoff: float = 0.5
    max_backoff: float = 15.0
    stable_after: float = 30.0


@dataclass(frozen=True)
class ServiceSpec:
    """One process of the stack.

    ``env`` is the complete environment of the process (``None``: inherit ours).
    ``ready_status``: the HTTP status that means ready; ``None`` accepts any status below 500.
    ``ready_body``: if set, the response body (stripped) must equal it.
    ``ready_url`` ``None``: ready as soon as it is started (and still alive).
    """

    name: str
    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    ready_url: str | None = None
    ready_status: int | None = 200
    ready_body: str | None = None
    timeout: float = 30.0
    url: str | None = None  # what to show/expose as this service's base URL
    stop_wave: int = 0  # services stop in waves, lowest first (clients before their servers)
    stop_signal: signal.Signals = signal.SIGTERM  # sent first; SIGKILL to the group follows
    stop_leader_only: bool = False  # send stop_signal to the leader only (it stops its children)
    start_group: str | None = None  # consecutive services of one group start in parallel
    ports: tuple[int, ...] = ()  # loopback ports it listens on: must be free before it starts
    console: bool = True  # False: output to its log file only, even on a console stack
    restart: RestartPolicy | None = None  # None: its death stops the stack (emulators)


# --------------------------------------------------------------------------------------
# Running services


class _Running:
    def __init__(
        self,
        spec: ServiceSpec,
        proc: Any,  # subprocess.Popen[bytes]
        log_path: Path,
        log_file: IO[bytes],
        pump: threading.Thread | None,
    ) -> None:
        self.spec = spec
        self.proc = proc
        self.pgid: int = proc.pid  # start_new_session: the leader's pid is the group id
        self.log_path = log_path
        self.log_file = log_file
        self.pump = pump
        self.expected_exit = False
        self.started_at = time.monotonic()
        self.restarts = 0  # how many times this service was restarted so far
        self.failures = 0  # consecutive quick deaths (the back-off exponent)
        self.restart_at: float | None = None  # a restart is due at this monotonic time


_LIVE_STACKS: weakref.WeakSet[Stack] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for stack in list(_LIVE_STACKS):
        with contextlib.suppress(Exception):
            stack.stop()


class Stack:
    """Starts services in order, supervises them, stops them all.

    Use as a context manager, or call ``start()`` and ``stop()`` (``stop`` is idempotent and
    also runs at interpreter exit).
    """

    def __init__(
        self,
        services: Sequence[ServiceSpec],
        run_dir: Path,
        *,
        console: bool = False,
        grace: float = 5.0,
        state_file: Path | None = None,
    ) -> None:
        names = [s.name for s in services]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate service names: {names}")
        self.services = list(services)
        self.run_dir = Path(run_dir)
        self.console = console
        self.grace = grace
        self._running: dict[str, _Running] = {}
        self._lock = threading.RLock()
        self._stopped = False
        # {"pid", "ports", "pids", "services"...}, rewritten whenever a pid changes (mpctl --local).
        self.state_file = state_file

    # -- information -------------------------------------------------------------------

    @property
    def urls(self) -> dict[str, str]:
        return {s.name: s.url for s in self.services if s.url is not None}

    def log_path(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def pid(self, name: str) -> int:
        return int(self._running[name].proc.pid)

    @property
    def pgids(self) -> dict[str, int]:
        return {name: r.pgid for name, r in self._running.items()}

    def dead_services(self) -> dict[str, int]:
        """Services that exited unexpectedly and whose restart is not scheduled by a supervising
        ``wait``/``supervise_once`` (without one, nothing restarts them): name -> exit code."""
        dead: dict[str, int] = {}
        for name, r in list(self._running.items()):
            code = r.proc.poll()
            if code is not None and not r.expected_exit and r.restart_at is None:
                dead[name] = int(code)
        return dead

    def restarts(self) -> dict[str, int]:
        """How many times each service has been restarted."""
        return {name: r.restarts for name, r in self._running.items()}

    # -- state file --------------------------------------------------------------------

    def state_ports(self) -> dict[str, int]:
        return {s.name: s.ports[0] for s in self.services if s.ports}

    def state_extra(self) -> dict[str, Any]:
        """More for the state file (a subclass knows its project and URLs)."""
        return {}

    def write_state(self) -> None:
        """Write ``state_file`` (atomically): the supervisor's pid (``mpctl --local`` checks it
        is alive), the ports and the current pid and URL of each service."""
        if self.state_file is None:
            return
        pids = {name: int(r.proc.pid) for name, r in self._running.items()}
        state = {"pid": os.getpid(), "run_dir": str(self.run_dir), "ports": self.state_ports(),
                 "pids": pids, **self.state_extra(),
                 "services": {s.name: {"pid": pids.get(s.name), "url": s.url}
                              for s in self.services}}
        import json

        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(self.state_file.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, self.state_file)

    def _remove_state(self) -> None:
        if self.state_file is None:
            return
        import json

        with contextlib.suppress(OSError, ValueError):
            pids = json.loads(self.state_file.read_text()).get("pids", {})
            if pids == {name: int(r.proc.pid) for name, r in self._running.items()}:
                self.state_file.unlink()  # ours: a stopped stack leaves no stale ports behind

    def check_alive(self) -> None:
        """Raise ``ServiceDied`` if any service has exited."""
        for name, code in self.dead_services().items():
            self._raise_died(name, code)

    def _raise_died(self, name: str, code: int) -> None:
        r = self._running[name]
        self._close_output(r)
        raise ServiceDied(
            name,
            f"exited unexpectedly with {describe_exit(code)} (it is not restarted: the "
            "whole stack stops)",
            r.log_path,
            tail_file(r.log_path),
        )

    # -- start -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start every service in order, each waited for before the next one.

        Consecutive services with the same ``start_group`` are started together, then waited
        for in order. On any failure everything already started is stopped and the error is
        raised.
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        _LIVE_STACKS.add(self)
        try:
            for batch in _batches(self.services):
                for spec in batch:
                    with signals_blocked():  # a Ctrl-C must not fall between fork and bookkeeping
                        self._spawn(spec, self.services.index(spec))
                for spec in batch:
                    self._wait_ready(spec)
            self.write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, spec: ServiceSpec, index: int) -> None:
        import subprocess

        log_path = self.log_path(spec.name)
        busy = [port for port in spec.ports if port_in_use(LOOPBACK, port)]
        if busy:
            # Otherwise the readiness probe could be answered by whoever holds the port.
            raise ServiceStartError(
                spec.name,
                f"cannot start: port {', '.join(map(str, busy))} on {LOOPBACK} is already in use "
                "(another `make dev`? set the *_PORT variables to move it)",
                None,
                "",
            )
        log_file = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        header = f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {spec.name}: "
        log_file.write((header + " ".join(spec.argv) + "\n").encode())
        log_file.flush()
        to_console = self.console and spec.console
        stdout: int | IO[bytes] = subprocess.PIPE if to_console else log_file
        try:
            proc = subprocess.Popen(
                list(spec.argv),
                env=dict(spec.env) if spec.env is not None else None,
                cwd=str(spec.cwd) if spec.cwd is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=PREEXEC,
                close_fds=True,
            )
        except OSError as exc:
            log_file.write(f"cannot start: {exc}\n".encode())
            log_file.close()
            raise ServiceStartError(
                spec.name, f"could not be started: {exc}", log_path, tail_file(log_path)
            ) from exc
        pumping: threading.Thread | None = None
        console = getattr(sys.stdout, "buffer", None) if to_console else None
        if to_console:
            assert proc.stdout is not None
            prefix = line_prefix(spec.name, index)
            pumping = threading.Thread(
                target=pump,
                args=(proc.stdout, log_file, prefix, console),
                name=f"log-{spec.name}",
                daemon=True,
            )
            pumping.start()
        with self._lock:
            self._running[spec.name] = _Running(spec, proc, log_path, log_file, pumping)

    def _wait_ready(self, spec: ServiceSpec) -> None:
        r = self._running[spec.name]
        deadline = time.monotonic() + spec.timeout
        last = "no answer yet"
        delay = 0.02
        while True:
            code = r.proc.poll()
            if code is not None:
                self._close_output(r)
                raise ServiceStartError(
                    spec.name,
                    f"exited with {describe_exit(code)} before becoming ready"
                    + (f" ({spec.ready_url})" if spec.ready_url else ""),
                    r.log_path,
                    tail_file(r.log_path),
                )
            if spec.ready_url is None:
                return
            ok, last = _probe(spec)
            if ok:
                return
            if time.monotonic() >= deadline:
                raise ServiceStartError(
                    spec.name,
                    f"not ready after {spec.timeout:g} s: GET {spec.ready_url}: {last}",
                    r.log_path,
                    tail_file(r.log_path),
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    # -- supervise ---------------------------------------------------------------------

    def wait(self, poll_interval: float = 0.2) -> None:
        """Supervise until a service without a restart policy dies (raises ``ServiceDied``)
        or the stack is stopped; services with one are restarted (``supervise_once``)."""
        while not self._stopped:
            self.supervise_once()
            time.sleep(poll_interval)

    def supervise_once(self) -> None:
        """Raise ``ServiceDied`` for a dead service without a restart policy; schedule the
        restart of one with a policy (with a log line) and carry out restarts that are due."""
        due: list[_Running] = []
        with self._lock:
            if self._stopped:
                return
            now = time.monotonic()
            for name, r in list(self._running.items()):
                if r.expected_exit:
                    continue
                if r.restart_at is None:
                    code = r.proc.poll()
                    if code is None:
                        continue
                    if r.spec.restart is None:
                        self._raise_died(name, code)
                    self._schedule_restart(r, f"exited with {describe_exit(code)}")
                elif now >= r.restart_at:
                    due.append(r)
        for r in due:
            self._restart(r)

    def _schedule_restart(self, r: _Running, reason: str) -> None:
        policy = r.spec.restart
        assert policy is not None
        now = time.monotonic()
        if now - r.started_at >= policy.stable_after:
            r.failures = 0
        delay = min(policy.initial_backoff * 2**r.failures, policy.max_backoff)
        r.failures += 1
        r.restart_at = now + delay
        # What is left of the group (a gunicorn worker whose master died) would hold the port.
        signal_group(r.pgid, signal.SIGKILL)
        line = (f"local stack: {r.spec.name} {reason}; restarting it in {delay:g} s "
                f"(restart {r.restarts + 1})")
        with contextlib.suppress(OSError, ValueError):
            r.log_file.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n".encode())
            r.log_file.flush()
        say(line)

    def _restart(self, old: _Running) -> None:
        spec = old.spec
        self._wait_groups_gone([old], time.monotonic() + 5.0)
        self._close_output(old)
        with self._lock, signals_blocked():
            if self._stopped or old.expected_exit:
                return
            try:
                self._spawn(spec, self.services.index(spec))
            except ServiceStartError as err:  # e.g. the port is still held: try again later
                self._running[spec.name] = old
                self._schedule_restart(old, f"could not be restarted ({err.reason})")
                return
            new = self._running[spec.name]
            new.restarts, new.failures = old.restarts + 1, old.failures
        try:
            self._wait_ready(spec)
        except ServiceStartError as err:
            self._schedule_restart(new, err.reason)
            return
        say(f"local stack: {spec.name} restarted (pid {new.proc.pid}, restart {new.restarts})")
        with self._lock:
            if not self._stopped:
                self.write_state()

    # -- stop --------------------------------------------------------------------------

    def stop(self) -> None:
        """Signal every process group (SIGTERM), SIGKILL what is left after ``grace`` seconds.

        Services stop in waves (``ServiceSpec.stop_wave``, lowest first), each wave getting
        its own grace period. Returns only when no member of any service's process group is
        alive. Idempotent.
        """
        with self._lock, signals_blocked():
            running = list(self._running.values())
            for r in running:
                r.expected_exit = True
            for wave in sorted({r.spec.stop_wave for r in running}):
                members = [r for r in reversed(running) if r.spec.stop_wave == wave]
                for r in members:
                    if r.spec.stop_leader_only and r.proc.poll() is None:
                        with contextlib.suppress(ProcessLookupError):
                            r.proc.send_signal(r.spec.stop_signal)
                    elif process_group_members(r.pgid):  # (a dead leader's orphans, if any)
                        signal_group(r.pgid, r.spec.stop_signal)
                self._wait_groups_gone(members, time.monotonic() + self.grace)
                leftover = [r for r in members if process_group_members(r.pgid)]
                for r in leftover:
                    signal_group(r.pgid, signal.SIGKILL)
                self._wait_groups_gone(leftover, time.monotonic() + 10.0)
            for r in running:
                with contextlib.suppress(Exception):
                    r.proc.wait(timeout=5)
                self._close_output(r)
            self._remove_state()
            self._stopped = True
            _LIVE_STACKS.discard(self)

    def _wait_groups_gone(self, running: Sequence[_Running], deadline: float) -> None:
        pending = list(running)
        while pending:
            for r in pending:
                r.proc.poll()  # reap the leader so it does not linger as a zombie
            pending = [r for r in pending if process_group_members(r.pgid)]
            if not pending or time.monotonic() >= deadline:
                return
            time.sleep(0.02)

    def _close_output(self, r: _Running) -> None:
        if r.pump is not None:
            r.pump.join(timeout=2.0)
        with contextlib.suppress(OSError):
            r.log_file.close()

    # -- context manager ---------------------------------------------------------------

    def __enter__(self) -> Self:
        if not self._running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _batches(services: Sequence[ServiceSpec]) -> list[list[ServiceSpec]]:
    batches: list[list[ServiceSpec]] = []
    for spec in services:
        if batches and spec.start_group is not None and batches[-1][-1].start_group == spec.start_group:
            batches[-1].append(spec)
        else:
            batches.append([spec])
    return batches


def _probe(spec: ServiceSpec) -> tuple[bool, str]:
    assert spec.ready_url is not None
    request = urllib.request.Request(spec.ready_url, method="GET")
    status: int
    body: bytes
    try:
        with _NO_PROXY_OPENER.open(request, timeout=2.0) as response:
            status = int(response.status)
            body = response.read(4096)
    except urllib.error.HTTPError as err:
        status = int(err.code)
        body = err.read(4096) if err.fp is not None else b""
    except (OSError, ValueError) as err:
        return False, f"{type(err).__name__}: {err}"
    ok = status < 500 if spec.ready_status is None else status == spec.ready_status
    if ok and spec.ready_body is not None:
        ok = body.decode("utf-8", errors="replace").strip() == spec.ready_body
    return ok, f"HTTP {status} {body[:200]!r}"


# Loopback only: never route readiness probes through an HTTP proxy from the environment.
_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
