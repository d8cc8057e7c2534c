"""One suite, two task queues: ``FakeTaskQueue`` and the Cloud Tasks adapter on the gRPC
emulator (local/cloudtasks_emulator) name, deduplicate and refuse tasks alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.cloudtasks_emulator import start_emulator
from shared.adapters.tasks import EnqueueError, HttpTask, task_id
from shared.usecases import ports
from tests.support.fakes.tasks import FakeTaskQueue

QUEUES = ("fulfill", "merchant-events")
# Never dispatched within a test: the emulator's clock runs slowly and the URL refuses.
URL = "http://127.0.0.1:9/fulfill"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    handle = start_emulator(queues=[f"{q}:max_attempts=1" for q in QUEUES], time_scale=0.001)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(params=["fake", "emulator"])
def queue(request: pytest.FixtureRequest) -> Iterator[ports.TaskQueue]:
    if request.param == "fake":
        yield FakeTaskQueue(set(QUEUES))
        return
    from shared.adapters.tasks import TaskQueue

    handle = request.getfixturevalue("emulator")
    handle.reset()
    yield TaskQueue(handle.project, handle.location, handle.grpc_target)


def _task(name: str, queue: str = "fulfill", body: bytes = b'{"topic":"payment"}') -> HttpTask:
    return HttpTask(queue=queue, task_id=name, url=URL, body=body,
                    headers={"Content-Type": "application/json"}, dispatch_deadline_seconds=60)


def test_a_named_task_is_created_once_whatever_its_body(queue):
    name = task_id("n", "signed|9001|req-1|1700000000")
    assert queue.enqueue(_task(name)) is True
    assert queue.enqueue(_task(name)) is False
    assert queue.enqueue(_task(name, body=b'{"topic":"other"}')) is False
    assert queue.enqueue(_task(task_id("n", "signed|9001|req-2|1700000000"))) is True


def test_names_are_per_queue(queue):
    name = task_id("e", "evt-1")
    assert queue.enqueue(_task(name, "fulfill")) is True
    assert queue.enqueue(_task(name, "merchant-events")) is True


def test_a_queue_that_does_not_exist_is_an_enqueue_error(queue):
    with pytest.raises(EnqueueError):
        queue.enqueue(_task(task_id("n", "x"), "no-such-queue"))
