"""``wiring.warm_after_fork``: what a worker builds right after gunicorn forks it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from shared import wiring

REPO = Path(__file__).resolve().parents[2]


def test_every_step_runs_once_and_a_failing_one_skips_only_itself() -> None:
    ran: list[str] = []

    def failing() -> None:
        ran.append("failing")
        raise RuntimeError("Firestore is down")

    wiring.warm([lambda: ran.append("first"), failing, lambda: ran.append("last")])
    assert ran == ["first", "failing", "last"]


def test_the_steps_run_after_a_fork_only() -> None:
    hooks: list[Callable[[], None]] = []

    def register(*, after_in_child: Callable[[], None]) -> None:
        hooks.append(after_in_child)

    ran: list[str] = []
    wiring.warm_after_fork(lambda: ran.append("built"), register=register)
    assert ran == []  # nothing at import: the master never builds a client
    assert len(hooks) == 1


SCRIPT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from shared import wiring

    marker = Path(sys.argv[1])
    wiring.warm_after_fork(lambda: marker.write_text(str(os.getpid())))
    time.sleep(0)  # nothing runs in this (master) process
    if marker.exists():
        sys.exit(3)
    pid = os.fork()
    if pid == 0:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if marker.exists() and marker.read_text() == str(os.getpid()):
                os._exit(0)
            time.sleep(0.01)
        os._exit(4)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status))
""")


def test_a_forked_worker_builds_on_its_own_thread(tmp_path: Path) -> None:
    marker = tmp_path / "built"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(marker)], cwd=REPO, timeout=60,
                          check=False)
    assert done.returncode == 0
