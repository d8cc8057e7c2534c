"""The tasks that wait for a dispatch, per queue, ordered by schedule time.

One heap per queue of ``(schedule_time, seq, record)``. A task waits from its creation until
an attempt starts, and again from a retry being scheduled until the next one; it stops waiting
when it finishes. Entries are removed lazily: each waiting task has one current ``seq``, and a
heap entry whose ``seq`` is not its task's current one is skipped (and dropped) when it comes
to the top. So creating a task costs O(log n), and finding the due tasks of a running queue
O(k log n) for k due tasks, whatever else the queue holds; a paused queue is not looked at.
Not thread-safe: the Store calls it under its lock.
"""

from __future__ import annotations

import heapq
import itertools

from .model import TaskRecord

_Entry = tuple[float, int, TaskRecord]


class WaitingTasks:
    """Per-queue heaps of the tasks waiting for a dispatch."""

    def __init__(self) -> None:
        self._heaps: dict[str, list[_Entry]] = {}
        self._current: dict[str, tuple[int, TaskRecord]] = {}  # task name -> its live entry
        self._seq = itertools.count()

    def push(self, record: TaskRecord) -> None:
        """``record`` waits for a dispatch at its ``schedule_time`` (replaces any earlier wait)."""
        seq = next(self._seq)
        self._current[record.name] = (seq, record)
        heapq.heappush(self._heaps.setdefault(record.queue_name, []), (record.schedule_time, seq, record))

    def discard(self, record: TaskRecord) -> None:
        """``record`` no longer waits (an attempt started, or it finished)."""
        current = self._current.get(record.name)
        if current is not None and current[1] is record:
            del self._current[record.name]

    def drop_queue(self, queue_name: str) -> None:
        """Forget every task of a queue (purged or deleted)."""
        for _, seq, record in self._heaps.pop(queue_name, []):
            current = self._current.get(record.name)
            if current is not None and current[0] == seq:
                del self._current[record.name]

    def clear(self) -> None:
        """Forget everything."""
        self._heaps.clear()
        self._current.clear()

    def due(self, queue_name: str, now: float, room: int) -> tuple[list[TaskRecord], float | None]:
        """Up to ``room`` tasks of the queue due at ``now``, earliest first, and when the next
        one falls due (None if none waits, or if ``room`` ran out first). They keep waiting
        until :meth:`discard`."""
        heap = self._heaps.get(queue_name)
        taken: list[_Entry] = []
        wake: float | None = None
        while heap:
            entry = heap[0]
            current = self._current.get(entry[2].name)
            if current is None or current[0] != entry[1]:
                heapq.heappop(heap)  # stale: the task started, finished or was rescheduled
                continue
            if entry[0] > now:
                wake = entry[0]
                break
            if len(taken) >= room:
                break
            taken.append(heapq.heappop(heap))
        if heap is not None:
            for entry in taken:
                heapq.heappush(heap, entry)
        return [entry[2] for entry in taken], wake
