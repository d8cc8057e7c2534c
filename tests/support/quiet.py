"""Quiescence of the local stack: the positive signal that "nothing more happens".

A test that asserts an absence (no second event, no duplicate hook run, no late
regression) first waits until the stack has nothing left to do, then asserts:

* the Mercado Pago simulator has no notification delivery left (``pending`` 0 in
  ``GET /_sim/notifications/log``: nothing queued, in flight or awaiting a retry), and
* the Cloud Tasks emulator holds no task (``GET /_emulator/tasks``: no pending task, none in
  flight; a task stays listed until its last attempt answered, so a merchant event or a hook
  run it causes has happened by then),

observed in that order twice with the same delivery count, so that a delivery that created a
task, or a task that caused a delivery, in between is seen.

Status changes the simulator has scheduled for later (a CONT card's approval, a PIX expiry)
are not work in progress here: a test waits for their outcome itself (``wait_order``).
"""

from __future__ import annotations

from typing import Any

import requests

from local.stack import LocalStack
from tests.support.waiting import wait_until


def _simulator(stack: LocalStack) -> tuple[int, int]:
    r = requests.get(stack.endpoints.simulator + "/_sim/notifications/log", timeout=5)
    r.raise_for_status()
    log: dict[str, Any] = r.json()
    return int(log["pending"]), len(log["deliveries"])


def busy_tasks(stack: LocalStack) -> list[str]:
    """What the Cloud Tasks emulator still has to do (empty: every queue is drained)."""
    r = requests.get(stack.endpoints.tasks_http + "/_emulator/tasks", timeout=5)
    r.raise_for_status()
    view: dict[str, Any] = r.json()
    busy = [f"task {t.get('name')}" for t in view["tasks"]]
    busy += [f"queue {name}: {q['in_flight']} in flight" for name, q in view["queues"].items()
             if q["in_flight"]]
    return busy


def quiet(stack: LocalStack) -> bool:
    """True when neither the simulator nor the task queues have anything left to do."""
    pending, delivered = _simulator(stack)
    if pending or busy_tasks(stack):
        return False
    return _simulator(stack) == (0, delivered)


def wait_quiet(stack: LocalStack, timeout: float = 20.0) -> None:
    """Wait until the stack is quiet (see the module docstring); fail naming what is busy."""
    try:
        wait_until(lambda: quiet(stack), timeout, "the stack to go quiet")
    except AssertionError as exc:
        pending, _ = _simulator(stack)
        raise AssertionError(f"{exc}; simulator deliveries pending: {pending}; "
                             f"Cloud Tasks: {busy_tasks(stack) or 'idle'}") from None
