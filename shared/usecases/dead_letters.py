"""Replaying a dead letter: its fulfil task, sent to fulfill again under a new name."""

from __future__ import annotations

from datetime import datetime

from google.cloud import firestore

from shared.adapters.store import dead_letters
from shared.adapters.tasks import TaskQueue
from shared.platform.config import Settings
from shared.usecases import fulfil_task
from shared.usecases.fulfil_task import FulfilTask, MalformedTask


def replay(db: firestore.Client, settings: Settings, queue: TaskQueue, letter_id: str,
           now: datetime) -> str:
    """Send a dead letter's task to fulfil again; returns the new task id.

    ``LookupError``: no such letter; ``ValueError``: it holds no task (a malformed body)."""
    letter = dead_letters.get_dead_letter(db, letter_id)
    if letter is None:
        raise LookupError(letter_id)
    stored = letter.get("task")
    try:
        original = FulfilTask.from_dict(stored if isinstance(stored, dict) else {})
    except MalformedTask:
        raise ValueError(f"dead letter {letter_id} holds no replayable task "
                         f"({letter.get('reason')})") from None
    count = int(letter.get("replay_count") or 0) + 1
    task = original.replayed(letter_id, count)
    fulfil_task.enqueue(settings, queue, task)
    dead_letters.mark_replayed(db, letter_id, count, task.name, now)
    return task.name
