"""Merchant events waiting to be handed to Cloud Tasks (``outbox/{event_id}``).

An event document is created in the same batch as the order transition it announces, so it
exists exactly once per transition whatever the concurrency. Flushing enqueues a task named
from the event id (a second enqueue is a no-op) and marks the document sent; a crash between
the two is repaired by the next flush. ``expires_at`` is the TTL field: it is set when the
event is handed over (kept 30 days after that), so a pending event never expires unsent; an
event written by a process with no shop URL configured expires 30 days after its creation
(the outbox cannot grow without bound when no shop listens).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.domain.order_events import order_event

OUTBOX = "outbox"
KEEP = timedelta(days=30)


new_event = order_event  # the pure builder lives in the domain


def stage(db: firestore.Client, batch: Any, event: dict[str, Any], now: datetime,
          ttl_from_creation: bool = False) -> None:
    """Add the event to the batch that makes its transition: created once, or the batch fails."""
    doc = {**event, "state": "pending", "created_at": now}
    if ttl_from_creation:
        doc["expires_at"] = now + KEEP
    batch.create(db.collection(OUTBOX).document(event["event_id"]), doc)


class Outbox:
    def __init__(self, db: firestore.Client) -> None:
        self._db = db

    def ref(self, event_id: str) -> Any:
        return self._db.collection(OUTBOX).document(event_id)

    def pending(self, order_id: str) -> list[dict[str, Any]]:
        query = (self._db.collection(OUTBOX).where(filter=firestore.FieldFilter(
            "order_id", "==", order_id)).where(filter=firestore.FieldFilter(
                "state", "==", "pending")))
        docs = [d.to_dict() or {} for d in query.stream(retry=RETRY, timeout=CALL_TIMEOUT)]
        return sorted(docs, key=lambda d: d.get("created_at") or 0)

    def mark_sent(self, event_id: str, now: datetime) -> None:
        self.ref(event_id).update({"state": "sent", "sent_at": now, "expires_at": now + KEEP},
                                  retry=RETRY, timeout=CALL_TIMEOUT)
