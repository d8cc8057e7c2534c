"""A small process supervisor for the local stack, used by ``make dev`` and by the tests.

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

``standard_services`` builds the whole local platform (Firestore emulator, Cloud Tasks
emulator, Mercado Pago simulator, the functions) for given ports and options, with
each function's environment computed per docs/contracts.md; ``start_stack`` starts it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, Any, ClassVar, Self

REPO_ROOT = Path(__file__).resolve().parent.parent

PROJECT_ID = "demo-mp-local"
LOCATION = "us-central1"
HOST = "127.0.0.1"
MP_ACCESS_TOKEN = "TEST-local-access-token"
MP_PUBLIC_KEY = "TEST-local-public-key"
MP_WEBHOOK_SECRET = "dev-webhook-secret"
MERCHANT_WEBHOOK_SECRET = "dev-merchant-webhook-secret"
TASKS_SERVICE_ACCOUNT = f"tasks-invoker@{PROJECT_ID}.iam.gserviceaccount.com"
# Dev-server ports whose pages may call create_payment locally: the storefront's own (8080 by
# default, STOREFRONT_PORT) and the usual 3000 (Next.js, CRA) and 5173 (Vite).
DEV_ORIGIN_PORTS = (8080, 3000, 5173)
CORS_ALLOWED_ORIGINS = ",".join(f"http://{h}:{p}" for p in DEV_ORIGIN_PORTS
                                for h in ("127.0.0.1", "localhost"))


def cors_origins(storefront_port: int) -> str:
    """The local allow-list, with the storefront's port when it is not a default one."""
    ports = dict.fromkeys((storefront_port, *DEV_ORIGIN_PORTS))
    return ",".join(f"http://{h}:{p}" for p in ports for h in ("127.0.0.1", "localhost"))
# Obviously fake: keys the hashes of cards, e-mails and addresses the attempt limits count.
RATE_LIMIT_KEY = "local-fake-rate-limit-key"
# The attempt limits relaxed for local use (the walk-through and the tests reuse Mercado
# Pago's few test cards and e-mails); each is overridden by the same variable in the caller's
# environment (``MAX_ATTEMPTS_PER_ORDER=3 make dev``). The per-order cap keeps its default.
LOCAL_LIMITS = {
    "MAX_ATTEMPTS_PER_ORDER": "5",
    "RATE_LIMIT_CARD": "10000/60",
    "RATE_LIMIT_PAYER": "10000/60",
    "RATE_LIMIT_IP": "100000/60",
    "RATE_LIMIT_ORDERS_IP": "100000/60",
}
# Cloud Scheduler's identity for the reconcile job (its OIDC token's `email`).
SCHEDULER_SERVICE_ACCOUNT = f"scheduler@{PROJECT_ID}.iam.gserviceaccount.com"
FUNCTIONS = ("create_payment", "ipn_webhook", "fulfill", "reconcile")

LOG_TAIL_LINES = 40
_SUPERVISOR_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


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
# Process groups


def process_group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes whose process group is ``pgid`` (via /proc)."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:  # pragma: no cover - not Linux
        return _killpg_probe(pgid)
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
        rest = stat[stat.rfind(b")") + 2 :].split()
        if len(rest) < 3:
            continue
        state, pgrp = rest[0], int(rest[2])
        if pgrp == pgid and state not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def _killpg_probe(pgid: int) -> list[int]:  # pragma: no cover - not Linux
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        return [pgid]
    return [pgid]


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _make_preexec() -> Callable[[], None] | None:
    """Ask Linux to SIGTERM the service if the supervisor dies without cleaning up."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):  # pragma: no cover
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def preexec() -> None:
        prctl(pr_set_pdeathsig, sigterm, 0, 0, 0)
        # The supervisor blocks SIGINT/SIGTERM while spawning; the service must not inherit it.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SUPERVISOR_SIGNALS)

    return preexec


_PREEXEC = _make_preexec()


def tail_file(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


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


_CONSOLE_LOCK = threading.Lock()


def _console_write(console: IO[bytes], line: bytes) -> None:
    """Write one whole line: service output and the supervisor's own lines never interleave."""
    with _CONSOLE_LOCK:
        console.write(line if line.endswith(b"\n") else line + b"\n")
        console.flush()


def say(text: str) -> None:
    """Print the supervisor's own line(s) to stdout without tearing a service's line apart.

    ``print`` writes the text and its newline as two writes when stdout is unbuffered
    (``PYTHONUNBUFFERED``), and a pump thread's line could land between them.
    """
    sys.stdout.flush()
    console = getattr(sys.stdout, "buffer", None)
    if console is None:  # a replaced stdout (tests capturing text)
        print(text, flush=True)
        return
    _console_write(console, text.encode())


def _pump(stream: IO[bytes], log_file: IO[bytes], prefix: bytes, console: IO[bytes] | None) -> None:
    """Copy a service's output to its log file and, prefixed, to the console."""
    try:
        for line in iter(stream.readline, b""):
            log_file.write(line)
            log_file.flush()
            if console is None:
                continue
            with contextlib.suppress(OSError, ValueError):  # a closed console loses nothing
                _console_write(console, prefix + line)
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError):
            stream.close()


_LIVE_STACKS: weakref.WeakSet[Stack] = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for stack in list(_LIVE_STACKS):
        with contextlib.suppress(Exception):
            stack.stop()


_COLORS = (b"\x1b[36m", b"\x1b[33m", b"\x1b[35m", b"\x1b[32m", b"\x1b[34m", b"\x1b[31m")


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
            f"exited unexpectedly with {_describe_exit(code)} (it is not restarted: the "
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
                    with _signals_blocked():  # a Ctrl-C must not fall between fork and bookkeeping
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
        busy = [port for port in spec.ports if _port_in_use(HOST, port)]
        if busy:
            # Otherwise the readiness probe could be answered by whoever holds the port.
            raise ServiceStartError(
                spec.name,
                f"cannot start: port {', '.join(map(str, busy))} on {HOST} is already in use "
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
                preexec_fn=_PREEXEC,
                close_fds=True,
            )
        except OSError as exc:
            log_file.write(f"cannot start: {exc}\n".encode())
            log_file.close()
            raise ServiceStartError(
                spec.name, f"could not be started: {exc}", log_path, tail_file(log_path)
            ) from exc
        pump: threading.Thread | None = None
        console = getattr(sys.stdout, "buffer", None) if to_console else None
        if to_console:
            assert proc.stdout is not None
            color = _COLORS[index % len(_COLORS)] if _console_is_tty() else b""
            reset = b"\x1b[0m" if color else b""
            prefix = color + spec.name.encode().ljust(15) + b"|" + reset + b" "
            pump = threading.Thread(
                target=_pump,
                args=(proc.stdout, log_file, prefix, console),
                name=f"log-{spec.name}",
                daemon=True,
            )
            pump.start()
        with self._lock:
            self._running[spec.name] = _Running(spec, proc, log_path, log_file, pump)

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
                    f"exited with {_describe_exit(code)} before becoming ready"
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
                    self._schedule_restart(r, f"exited with {_describe_exit(code)}")
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
        _signal_group(r.pgid, signal.SIGKILL)
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
        with self._lock, _signals_blocked():
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
        with self._lock, _signals_blocked():
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
                        _signal_group(r.pgid, r.spec.stop_signal)
                self._wait_groups_gone(members, time.monotonic() + self.grace)
                leftover = [r for r in members if process_group_members(r.pgid)]
                for r in leftover:
                    _signal_group(r.pgid, signal.SIGKILL)
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


def _port_in_use(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _batches(services: Sequence[ServiceSpec]) -> list[list[ServiceSpec]]:
    batches: list[list[ServiceSpec]] = []
    for spec in services:
        if batches and spec.start_group is not None and batches[-1][-1].start_group == spec.start_group:
            batches[-1].append(spec)
        else:
            batches.append([spec])
    return batches


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _console_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


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


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Defer SIGINT/SIGTERM while stopping, so a second Ctrl-C cannot strand processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _SUPERVISOR_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


# --------------------------------------------------------------------------------------
# Ports and options of the standard stack


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct ports that were free on ``host`` a moment ago."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass(frozen=True)
class StackPorts:
    create_payment: int = 8081
    ipn_webhook: int = 8082
    fulfill: int = 8083
    reconcile: int = 8084
    simulator: int = 8090
    firestore: int = 8085
    tasks_grpc: int = 8123
    tasks_http: int = 8124
    # fulfill's and reconcile's own ports, behind the local Cloud Run front end (which owns
    # `fulfill` and `reconcile` above): the container's port, never called directly
    fulfill_internal: int = 18083
    reconcile_internal: int = 18084
    storefront: int = 8080

    ENV_NAMES: ClassVar[dict[str, str]] = {
        "create_payment": "CREATE_PAYMENT_PORT",
        "ipn_webhook": "IPN_WEBHOOK_PORT",
        "fulfill": "FULFILL_PORT",
        "reconcile": "RECONCILE_PORT",
        "simulator": "MP_SIMULATOR_PORT",
        "firestore": "FIRESTORE_PORT",
        "tasks_grpc": "CLOUD_TASKS_PORT",
        "tasks_http": "CLOUD_TASKS_HTTP_PORT",
        "fulfill_internal": "FULFILL_INTERNAL_PORT",
        "reconcile_internal": "RECONCILE_INTERNAL_PORT",
        "storefront": "STOREFRONT_PORT",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackPorts:
        """The default ports, each overridable by its environment variable."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = env.get(cls.ENV_NAMES[f.name], "").strip()
            if raw:
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ValueError(f"{cls.ENV_NAMES[f.name]}={raw!r} is not a port") from None
        return cls(**values)

    @classmethod
    def free(cls, host: str = HOST) -> StackPorts:
        names = [f.name for f in fields(cls)]
        return cls(**dict(zip(names, free_ports(len(names), host), strict=True)))


@dataclass(frozen=True)
class StackOptions:
    """Knobs of the standard stack.

    ``time_scale`` scales the Cloud Tasks emulator's clock (backoffs); ``cont_delay`` and
    ``retry_delays`` are the simulator's delay before an asynchronous payment settles and
    between its webhook retries (seconds). ``base_env`` is the environment passed through to
    every service (default: ours); ``function_env`` is added to the functions' environment
    last (wins over everything).
    """

    time_scale: float = 1.0
    cont_delay: float = 2.0
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    project: str = PROJECT_ID
    location: str = LOCATION
    fulfill_queue: str = "fulfill:max_attempts=10,min_backoff=0.2,max_backoff=10,max_doublings=4"
    merchant_events_queue: str = "merchant-events:max_attempts=50,min_backoff=1,max_backoff=60"
    currency: str = "BRL"
    base_env: Mapping[str, str] | None = None
    function_env: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    functions_framework: str | None = None
    start_timeout: float = 30.0


@dataclass(frozen=True)
class StackUrls:
    create_payment: str
    ipn_webhook: str
    fulfill: str
    reconcile: str
    simulator: str
    firestore: str
    tasks_http: str
    firestore_host: str
    tasks_grpc_host: str
    certs: str
    fulfill_internal: str
    reconcile_internal: str
    storefront: str = ""

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def stack_urls(ports: StackPorts, host: str = HOST) -> StackUrls:
    def base(port: int) -> str:
        return f"http://{host}:{port}"

    return StackUrls(
        create_payment=base(ports.create_payment),
        ipn_webhook=base(ports.ipn_webhook),
        fulfill=base(ports.fulfill),
        reconcile=base(ports.reconcile),
        simulator=base(ports.simulator),
        firestore=base(ports.firestore),
        tasks_http=base(ports.tasks_http),
        firestore_host=f"{host}:{ports.firestore}",
        tasks_grpc_host=f"{host}:{ports.tasks_grpc}",
        certs=base(ports.tasks_http) + "/oauth2/v1/certs",
        fulfill_internal=base(ports.fulfill_internal),
        reconcile_internal=base(ports.reconcile_internal),
        storefront=base(ports.storefront) + "/",
    )


# Variables the stack wires itself: the caller's environment never overrides them.
# (Secrets forced here must match what the simulator is started with.)
_FORCED_SECRETS = ("MP_ACCESS_TOKEN", "MP_WEBHOOK_SECRET")


def function_env(ports: StackPorts, options: StackOptions | None = None, host: str = HOST) -> dict[str, str]:
    """The complete environment of each function process (the same for all three).

    Order: caller's environment (passed through, e.g. ``MERCHANT_WEBHOOK_URL``, ``LOG_LEVEL``)
    < overridable local defaults (``CORS_ALLOWED_ORIGINS``, ``MERCHANT_WEBHOOK_SECRET``)
    < the stack's wiring (project, emulator hosts, URLs, simulator secrets)
    < ``options.function_env``.
    """
    opts = options or StackOptions()
    urls = stack_urls(ports, host)
    env = dict(os.environ if opts.base_env is None else opts.base_env)
    # A secret is given one way only: drop the _FILE/_SECRET variants of the forced ones.
    for name in _FORCED_SECRETS:
        env.pop(f"{name}_FILE", None)
        env.pop(f"{name}_SECRET", None)
    defaults = {
        "CORS_ALLOWED_ORIGINS": cors_origins(ports.storefront),
        "MERCHANT_WEBHOOK_SECRET": MERCHANT_WEBHOOK_SECRET,
        "RATE_LIMIT_KEY": RATE_LIMIT_KEY,
        **LOCAL_LIMITS,
    }
    for name, value in defaults.items():
        if name not in env and f"{name}_FILE" not in env and f"{name}_SECRET" not in env:
            env[name] = value
    env.update(
        {
            "GOOGLE_CLOUD_PROJECT": opts.project,
            "TASKS_LOCATION": opts.location,
            "FULFILL_QUEUE": _queue_name(opts.fulfill_queue),
            "MERCHANT_EVENTS_QUEUE": _queue_name(opts.merchant_events_queue),
            "FIRESTORE_EMULATOR_HOST": urls.firestore_host,
            "MP_API_BASE_URL": urls.simulator,
            "MP_ACCESS_TOKEN": MP_ACCESS_TOKEN,
            "MP_WEBHOOK_SECRET": MP_WEBHOOK_SECRET,
            "NOTIFICATION_URL": urls.ipn_webhook,
            "FULFILL_URL": urls.fulfill,
            "CLOUD_TASKS_EMULATOR_HOST": urls.tasks_grpc_host,
            "TASKS_SERVICE_ACCOUNT": TASKS_SERVICE_ACCOUNT,
            "FULFILL_AUTH_AUDIENCE": urls.fulfill,
            "RECONCILE_AUTH_AUDIENCE": urls.reconcile,
            "RECONCILE_ALLOWED_SERVICE_ACCOUNT": SCHEDULER_SERVICE_ACCOUNT,
            "FULFILL_ALLOWED_SERVICE_ACCOUNT": TASKS_SERVICE_ACCOUNT,
            "ID_TOKEN_CERTS_URL": urls.certs,
            # production's shape: the local front end checks the token, as Cloud Run does
            "CALLER_AUTH": "cloud_run_iam",
            "PYTHONPATH": _pythonpath(env.get("PYTHONPATH")),
            "PYTHONUNBUFFERED": "1",
        }
    )
    max_attempts = _queue_setting(opts.fulfill_queue, "max_attempts")
    if max_attempts is not None:  # the function must know which attempt is the queue's last
        env["FULFILL_MAX_ATTEMPTS"] = max_attempts
    env.update(opts.function_env)
    return env


def _queue_name(spec: str) -> str:
    """``"fulfill:max_attempts=10,..."`` -> ``"fulfill"``."""
    return spec.split(":", 1)[0].strip()


def _queue_setting(spec: str, key: str) -> str | None:
    """``_queue_setting("fulfill:max_attempts=10", "max_attempts")`` -> ``"10"``."""
    _, _, settings = spec.partition(":")
    for item in settings.split(","):
        name, _, value = item.partition("=")
        if name.strip() == key:
            return value.strip()
    return None


def _pythonpath(existing: str | None) -> str:
    parts = [str(REPO_ROOT)] + [p for p in (existing or "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(parts))


def _service_env(opts: StackOptions) -> dict[str, str]:
    env = dict(os.environ if opts.base_env is None else opts.base_env)
    env["PYTHONPATH"] = _pythonpath(env.get("PYTHONPATH"))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def find_functions_framework(opts: StackOptions | None = None) -> str:
    """The project venv's ``functions-framework`` console script."""
    if opts is not None and opts.functions_framework:
        return opts.functions_framework
    candidates = [
        Path(opts.python if opts else sys.executable).parent / "functions-framework",
        REPO_ROOT / ".venv" / "bin" / "functions-framework",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("functions-framework")
    if found:
        return found
    raise FileNotFoundError("functions-framework not found (is the project venv installed?)")


def _fmt_seconds(value: float) -> str:
    return f"{value:g}"


def standard_services(
    ports: StackPorts | None = None, options: StackOptions | None = None, host: str = HOST
) -> list[ServiceSpec]:
    """Firestore emulator, Cloud Tasks emulator, MP simulator, then the functions (FUNCTIONS)."""
    from local.firestore_emulator import firestore_service

    p = ports or StackPorts.from_env()
    opts = options or StackOptions()
    urls = stack_urls(p, host)
    py = opts.python
    senv = _service_env(opts)
    timeout = opts.start_timeout
    services = [
        # The emulator's chatter (and its expected Java stack traces) stays in firestore.log.
        replace(firestore_service(p.firestore, host=host, env=senv), timeout=max(timeout, 60.0),
                console=False),
        ServiceSpec(
            name="cloudtasks",
            argv=[
                py,
                "-m",
                "local.cloudtasks_emulator",
                "--host",
                host,
                "--grpc-port",
                str(p.tasks_grpc),
                "--http-port",
                str(p.tasks_http),
                "--project",
                opts.project,
                "--location",
                opts.location,
                "--queue",
                opts.fulfill_queue,
                "--queue",
                opts.merchant_events_queue,
                "--time-scale",
                _fmt_seconds(opts.time_scale),
            ],
            env=senv,
            cwd=REPO_ROOT,
            ready_url=urls.tasks_http + "/healthz",
            ready_status=200,
            timeout=timeout,
            url=urls.tasks_http,
            stop_wave=1,
            ports=(p.tasks_grpc, p.tasks_http),
        ),
        ServiceSpec(
            name="simulator",
            argv=[
                py,
                "-m",
                "local.mp_simulator",
                "--host",
                host,
                "--port",
                str(p.simulator),
                "--access-token",
                MP_ACCESS_TOKEN,
                "--public-key",
                MP_PUBLIC_KEY,
                "--webhook-secret",
                MP_WEBHOOK_SECRET,
                "--currency",
                opts.currency,
                "--cont-delay",
                _fmt_seconds(opts.cont_delay),
                "--retry-delays",
                ",".join(_fmt_seconds(d) for d in opts.retry_delays),
            ],
            env=senv,
            cwd=REPO_ROOT,
            ready_url=urls.simulator + "/_sim/health",
            ready_status=200,
            timeout=timeout,
            url=urls.simulator,
            stop_wave=1,
            ports=(p.simulator,),
        ),
    ]
    services.append(storefront_service(p, opts, urls, senv, host))
    ff = find_functions_framework(opts)
    fenv = function_env(p, opts, host)
    for name, port, url in (
        ("create_payment", p.create_payment, urls.create_payment),
        ("ipn_webhook", p.ipn_webhook, urls.ipn_webhook),
        ("fulfill", p.fulfill_internal, urls.fulfill_internal),  # behind run_frontend
        ("reconcile", p.reconcile_internal, urls.reconcile_internal),
    ):
        services.append(
            ServiceSpec(
                name=name,
                argv=[
                    ff,
                    f"--target={name}",
                    f"--source=entry_{name}.py",
                    f"--host={host}",
                    f"--port={port}",
                ],
                env=fenv,
                cwd=REPO_ROOT,
                # create_payment answers GET /orders/<unknown> with 404; the others
                # answer GET / with some 4xx: any answer below 500 means it is serving.
                ready_url=url + ("/orders/x" if name == "create_payment" else "/"),
                ready_status=404 if name == "create_payment" else None,
                timeout=timeout,
                url=url,
                stop_wave=0,
                # gunicorn's quick shutdown, to the master only: it stops its worker itself. (On
                # SIGTERM the worker lingers up to ~2.5 s over idle kept-alive connections; a
                # worker signalled both by us and by its master can deadlock in its handler.)
                stop_signal=signal.SIGINT,
                stop_leader_only=True,
                start_group="functions",  # independent of each other: start them together
                ports=(port,),
                # A function keeps no state: one that dies (fault runs kill masters and
                # workers) is restarted; the emulators' death still stops the stack.
                restart=RestartPolicy(),
            )
        )
    from local.run_frontend import frontend_service

    services.append(frontend_service(p, urls, py, senv, host, timeout))
    return services


def storefront_service(p: StackPorts, opts: StackOptions, urls: StackUrls,
                       env: Mapping[str, str], host: str = HOST) -> ServiceSpec:
    """The reference checkout page (web/), pointed at this stack and the simulator's SDK."""
    return ServiceSpec(
        name="storefront",
        argv=[opts.python, "-m", "local.storefront", "--host", host,
              "--port", str(p.storefront), "--api-url", urls.create_payment,
              "--sdk-url", urls.simulator + "/js/v2",
              "--security-url", urls.simulator + "/v2/security.js",
              "--public-key", MP_PUBLIC_KEY],
        env=env,
        cwd=REPO_ROOT,
        ready_url=urls.storefront + "config.json",
        ready_status=200,
        timeout=opts.start_timeout,
        url=urls.storefront,
        stop_wave=0,
        ports=(p.storefront,),
    )


class LocalStack(Stack):
    """The standard stack, with its ports, options and URLs."""

    def __init__(
        self,
        ports: StackPorts,
        options: StackOptions,
        run_dir: Path,
        *,
        console: bool = False,
        host: str = HOST,
        services: Sequence[ServiceSpec] | None = None,
        state_file: Path | None = None,
    ) -> None:
        super().__init__(
            services if services is not None else standard_services(ports, options, host),
            run_dir,
            console=console,
            state_file=state_file,
        )
        self.ports = ports
        self.options = options
        self.host = host
        self.endpoints = stack_urls(ports, host)

    @property
    def project(self) -> str:
        return self.options.project

    @property
    def function_env(self) -> dict[str, str]:
        return function_env(self.ports, self.options, self.host)

    def state_ports(self) -> dict[str, int]:
        return {f.name: int(getattr(self.ports, f.name)) for f in fields(self.ports)}

    def state_extra(self) -> dict[str, Any]:
        return {"project": self.project, "urls": self.endpoints.as_dict()}


STATE_FILE = REPO_ROOT / ".local-run" / "stack.json"  # make dev's ports and pids


def default_run_dir() -> Path:
    return REPO_ROOT / ".local-run" / time.strftime(f"%Y%m%d-%H%M%S-{os.getpid()}")


def start_stack(
    ports: StackPorts | None = None,
    options: StackOptions | None = None,
    *,
    run_dir: Path | None = None,
    console: bool = False,
    only: Sequence[str] | None = None,
    extra: Sequence[ServiceSpec] = (),
    state_file: Path | None = None,
) -> LocalStack:
    """Build and start the standard stack (``only``: a subset of service names, in order).

    ``extra`` services start first. Returns the running stack; stop it with ``.stop()`` or
    use it as a context manager.
    """
    p = ports or StackPorts.from_env()
    opts = options or StackOptions()
    services = standard_services(p, opts)
    if only is not None:
        unknown = set(only) - {s.name for s in services}
        if unknown:
            raise ValueError(f"unknown services: {sorted(unknown)}")
        services = [s for s in services if s.name in only]
    services = [*extra, *services]  # e.g. make dev's merchant-event receiver, needed by none
    stack = LocalStack(p, opts, run_dir or default_run_dir(), console=console, services=services,
                       state_file=state_file)
    stack.start()
    return stack


# --------------------------------------------------------------------------------------
# Signals, for long-running supervisors (make dev)


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM (or SIGHUP) arrives."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def terminate_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into a ``Terminated`` exception, SIGINT into KeyboardInterrupt.

    SIGINT is set explicitly: a process started in the background by a non-interactive shell
    inherits it ignored, and Ctrl-C (or ``kill -INT``) must still stop the stack.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous = {
        signal.SIGTERM: signal.signal(signal.SIGTERM, handler),
        signal.SIGHUP: signal.signal(signal.SIGHUP, handler),
        signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler),
    }
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
