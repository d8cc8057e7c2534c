"""In-memory ``TaskQueue``: named tasks per queue, a second enqueue of a name is a no-op."""

from __future__ import annotations

import json
from typing import Any

from shared.adapters.tasks import EnqueueError, HttpTask
from tests.support.fakes.memory import Faults


class FakeTaskQueue(Faults):
    """``queues``: the queues that exist (None: any); enqueueing elsewhere fails as the
    adapter does (``EnqueueError``)."""

    def __init__(self, queues: set[str] | None = None) -> None:
        super().__init__()
        self.queues = queues
        self.tasks: dict[tuple[str, str], HttpTask] = {}

    def enqueue(self, task: HttpTask) -> bool:
        self._check("enqueue")
        if self.queues is not None and task.queue not in self.queues:
            raise EnqueueError(f"could not enqueue on {task.queue}: NotFound")
        key = (task.queue, task.task_id)
        if key in self.tasks:
            return False
        self.tasks[key] = task
        return True

    # -- what tests look at ------------------------------------------------------------
    def on(self, queue: str) -> list[HttpTask]:
        return [t for (q, _), t in self.tasks.items() if q == queue]

    def bodies(self, queue: str) -> list[dict[str, Any]]:
        return [json.loads(t.body) for t in self.on(queue)]
