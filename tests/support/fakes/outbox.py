"""In-memory ``Outbox``: the events the order store fakes stage, in the same documents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from shared.adapters.store.collections import ORDERS
from shared.adapters.store.outbox import KEEP, OUTBOX, staged_doc
from shared.domain import unsent_events
from tests.support.fakes.memory import Faults, Memory


def stage(memory: Memory, event: dict[str, Any], now: datetime,
          ttl_from_creation: bool = False) -> dict[str, Any]:
    """The document ``shared.adapters.store.outbox.stage`` creates (the caller checks that
    it does not exist: a create)."""
    return staged_doc(event, now, ttl_from_creation)


def track(memory: Memory, order_id: str, order: Mapping[str, Any],
          event_ids: Sequence[str]) -> dict[str, Any]:
    """The order's fields ``shared.adapters.store.outbox.track`` writes (its ArrayUnion on
    ``order``'s current list; an order from before the list lists its pending events too)."""
    ids = list(event_ids)
    if unsent_events.untracked(order):
        ids = [str(e["event_id"]) for e in FakeOutbox(memory).pending(order_id)] + ids
    current = order.get(unsent_events.FIELD)
    out = list(current) if isinstance(current, list) else []
    out.extend(i for i in ids if i not in out)
    return {unsent_events.FIELD: out}


class FakeOutbox(Faults):
    def __init__(self, memory: Memory | None = None) -> None:
        super().__init__()
        self.memory = memory or Memory()

    def pending(self, order_id: str) -> list[dict[str, Any]]:
        self._check("pending")
        docs = [dict(d) for d in self.memory.collection(OUTBOX).values()
                if d.get("order_id") == order_id and d.get("state") == "pending"]
        return sorted(docs, key=lambda d: d.get("created_at") or 0)

    def unsent(self, event_ids: Sequence[str]) -> list[dict[str, Any]]:
        self._check("unsent")
        docs = [d for d in (self.memory.read(OUTBOX, i) for i in event_ids)
                if d is not None and d.get("state") == "pending"]
        return sorted(docs, key=lambda d: d.get("created_at") or 0)

    def mark_sent(self, order_id: str, event_ids: Sequence[str], now: datetime,
                  forget: Sequence[str] = ()) -> None:
        self._check("mark_sent")
        with self.memory.lock:  # one commit
            events = self.memory.collection(OUTBOX)
            for event_id in event_ids:
                if event_id not in events:
                    raise gexc.NotFound(f"no outbox event {event_id}")  # type: ignore[no-untyped-call]
            for event_id in event_ids:
                events[event_id].update({"state": "sent", "sent_at": now,
                                         "expires_at": now + KEEP})
            order = self.memory.collection(ORDERS).get(order_id)
            if order is not None:  # Firestore's ArrayRemove (an empty list if none)
                gone = {*event_ids, *forget}
                listed = order.get(unsent_events.FIELD)
                order[unsent_events.FIELD] = [i for i in (
                    listed if isinstance(listed, list) else []) if i not in gone]

    def event(self, event_id: str) -> dict[str, Any] | None:
        return self.memory.read(OUTBOX, event_id)
