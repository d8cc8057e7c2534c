"""In-memory ``Ledger``: processed notification ids and dead letters."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.adapters.store.ledger import DEAD_LETTERS, PROCESSED, Processed, processed_doc
from tests.support.fakes.memory import Faults, Memory


class FakeLedger(Faults):
    def __init__(self, memory: Memory | None = None, processed_ttl_days: int = 7) -> None:
        super().__init__()
        self.memory = memory or Memory()
        self._ttl = timedelta(days=processed_ttl_days)

    def processed_record(self, notification_id: str, fields: dict[str, Any],
                         now: datetime) -> Processed:
        return Processed(notification_id, processed_doc(fields, now, self._ttl))

    def mark_processed(self, notification_id: str, fields: dict[str, Any], now: datetime) -> None:
        self._check("mark_processed")
        self.memory.collection(PROCESSED)[notification_id] = processed_doc(fields, now,
                                                                           self._ttl)

    def record_dead_letter(self, letter_id: str, reason: str, task: dict[str, Any],
                           attempts: int, now: datetime, detail: str = "") -> None:
        self._check("record_dead_letter")
        letters = self.memory.collection(DEAD_LETTERS)
        if letter_id in letters:
            letters[letter_id].update({"reason": reason, "detail": detail, "attempts": attempts,
                                       "updated_at": now})
            return
        letters[letter_id] = {"reason": reason, "detail": detail, "task": dict(task),
                              "attempts": attempts, "created_at": now, "updated_at": now,
                              "replayed": False}

    # -- what tests look at ------------------------------------------------------------
    def processed(self, notification_id: str) -> dict[str, Any] | None:
        return self.memory.read(PROCESSED, notification_id)

    def dead_letter(self, letter_id: str) -> dict[str, Any] | None:
        return self.memory.read(DEAD_LETTERS, letter_id)
