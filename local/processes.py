"""Process groups, signals and loopback ports: the supervisor's dealings with the OS.

Generic (nothing here knows the stack's layout): each service runs in its own process group,
whose live members are found by scanning ``/proc`` (so grandchildren count too); Linux's
parent-death signal stops a service if the supervisor is killed; the supervisor defers
SIGINT/SIGTERM/SIGHUP while it forks or stops, and long-running supervisors (``make dev``)
turn SIGTERM/SIGHUP into an exception.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType

LOOPBACK = "127.0.0.1"
SUPERVISOR_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


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


def signal_group(pgid: int, sig: signal.Signals) -> None:
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
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SUPERVISOR_SIGNALS)

    return preexec


# ``preexec_fn`` of every service process (None where Linux's prctl is not available).
PREEXEC = _make_preexec()


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


# --------------------------------------------------------------------------------------
# Signals of the supervisor itself


@contextlib.contextmanager
def signals_blocked() -> Iterator[None]:
    """Defer SIGINT/SIGTERM while stopping, so a second Ctrl-C cannot strand processes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISOR_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


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


def stop_requested() -> threading.Event:
    """An event SIGTERM or SIGINT sets: a server's main thread waits on it, then stops cleanly."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    return stop


def serve_until_interrupted(server: socketserver.BaseServer) -> int:
    """Serve until Ctrl-C, then close the socket; the exit code (0)."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


# --------------------------------------------------------------------------------------
# Loopback ports


def port_in_use(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
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
