"""In-memory ``Outbox``: the events the order store fakes stage, in the same documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from shared.adapters.store.outbox import KEEP, OUTBOX
from tests.support.fakes.memory import Faults, Memory


def stage(memory: Memory, event: dict[str, Any], now: datetime,
          ttl_from_creation: bool = False) -> dict[str, Any]:
    """The document ``shared.adapters.store.outbox.stage`` creates (the caller checks that
    it does not exist: a create)."""
    doc = {**event, "state": "pending", "created_at": now}
    if ttl_from_creation:
        doc["expires_at"] = now + KEEP
    return doc


class FakeOutbox(Faults):
    def __init__(self, memory: Memory | None = None) -> None:
        super().__init__()
        self.memory = memory or Memory()

    def pending(self, order_id: str) -> list[dict[str, Any]]:
        self._check("pending")
        docs = [dict(d) for d in self.memory.collection(OUTBOX).values()
                if d.get("order_id") == order_id and d.get("state") == "pending"]
        return sorted(docs, key=lambda d: d.get("created_at") or 0)

    def mark_sent(self, event_id: str, now: datetime) -> None:
        self._check("mark_sent")
        doc = self.memory.collection(OUTBOX).get(event_id)
        if doc is None:
            raise gexc.NotFound(f"no outbox event {event_id}")  # type: ignore[no-untyped-call]
        doc.update({"state": "sent", "sent_at": now, "expires_at": now + KEEP})

    def event(self, event_id: str) -> dict[str, Any] | None:
        return self.memory.read(OUTBOX, event_id)
