"""Replaying a dead letter (mpctl dead-letters replay) against the Firestore emulator: the
stored task goes to fulfill again under a new name per replay, and the letter says so."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.adapters.store.dead_letters import get_dead_letter, list_dead_letters
from shared.adapters.store.ledger import Ledger
from shared.adapters.tasks import HttpTask
from shared.platform.config import Settings
from shared.usecases.dead_letters import replay
from shared.usecases.fulfil_task import FulfilTask

SETTINGS = Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", "FULFILL_URL": "https://f.example"})


class _Queue:
    def __init__(self) -> None:
        self.tasks: list[HttpTask] = []

    def enqueue(self, task: HttpTask) -> bool:
        self.tasks.append(task)
        return True


@pytest.fixture
def db(firestore_project, firestore_emulator):
    client = firestore_emulator.client(firestore_project)
    # A first write without the store's short deadline: the emulator's first one per project
    # can be slow on a busy machine.
    client.collection("reconcile_state").document("untouched").set({"at": datetime.now(UTC)})
    return client


def test_a_replay_sends_the_stored_task_again_under_a_new_name(db):
    now = datetime.now(UTC)
    original = FulfilTask.for_notification("fraud_alert", "58980959081", "Created", "req",
                                           "signed||req|1", resource_signed=False)
    Ledger(db, 30).record_dead_letter("letter-1", "unknown_payment", original.as_dict(), 5, now)
    queue = _Queue()
    first = replay(db, SETTINGS, queue, "letter-1", now)  # type: ignore[arg-type]
    second = replay(db, SETTINGS, queue, "letter-1", now)  # type: ignore[arg-type]
    assert first != second and [t.task_id for t in queue.tasks] == [first, second]
    body = json.loads(queue.tasks[0].body)
    assert body == {**original.as_dict(), "notification_id": first[2:], "action": "replay"}
    assert queue.tasks[0].url == "https://f.example"
    letter = get_dead_letter(db, "letter-1")
    assert letter is not None
    assert (letter["replayed"], letter["replay_count"], letter["replay_task"]) == (True, 2, second)
    assert list_dead_letters(db) == []  # replayed letters are listed only with --all
    assert [d["id"] for d in list_dead_letters(db, include_replayed=True)] == ["letter-1"]


def test_a_malformed_letter_or_an_unknown_one_is_refused_and_nothing_is_sent(db):
    now = datetime.now(UTC)
    Ledger(db, 30).record_dead_letter("malformed-1", "malformed_task", {"raw": "{no"}, 1, now)
    queue = _Queue()
    with pytest.raises(ValueError, match="no replayable task"):
        replay(db, SETTINGS, queue, "malformed-1", now)  # type: ignore[arg-type]
    with pytest.raises(LookupError):
        replay(db, SETTINGS, queue, "no-such-letter", now)  # type: ignore[arg-type]
    assert queue.tasks == []
    letter = get_dead_letter(db, "malformed-1")
    assert letter is not None and letter["replayed"] is False
