"""The Cloud Tasks adapter keeps its client, its CreateTask call and each queue's headers for
the instance; ``shared.wiring.reset`` forgets them, so a changed environment is honoured."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.cloudtasks_emulator import start_emulator
from shared import wiring
from shared.adapters.tasks import HttpTask, task_id


@pytest.fixture
def two_emulators() -> Iterator[tuple[Any, Any]]:
    first = start_emulator(queues=["fulfill:max_attempts=1"], time_scale=0.001)
    second = start_emulator(queues=["fulfill:max_attempts=1"], time_scale=0.001)
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()
        wiring.reset()


def _names(emulator: Any) -> list[str]:
    view = emulator.store.snapshot()
    return [t["name"].rsplit("/", 1)[-1] for t in view["tasks"] + view["history"]]


def test_after_reset_tasks_go_to_the_newly_configured_server(two_emulators, monkeypatch):
    first, second = two_emulators
    task = HttpTask(queue="fulfill", task_id=task_id("n", "cache-test"),
                    url="http://127.0.0.1:9/", body=b"{}", headers={})
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", first.project)
    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", first.grpc_target)
    wiring.reset()
    assert wiring.task_queue().enqueue(task) is True
    assert wiring.task_queue().enqueue(task) is False  # the same instance, the same server

    monkeypatch.setenv("CLOUD_TASKS_EMULATOR_HOST", second.grpc_target)
    assert wiring.task_queue().enqueue(task) is False  # settings are read once per instance
    wiring.reset()
    assert wiring.task_queue().enqueue(task) is True  # the new server: a new task there
    assert _names(first) == [task.task_id]
    assert _names(second) == [task.task_id]
