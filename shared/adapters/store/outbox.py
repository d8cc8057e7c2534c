"""Merchant events waiting to be handed to Cloud Tasks (``outbox/{event_id}``).

An event document is created in the same batch as the order transition it announces, so it
exists exactly once per transition whatever the concurrency. Flushing enqueues a task named
from the event id (a second enqueue is a no-op) and marks the document sent; a crash between
the two is repaired by the next flush. The order lists the ids of its unsent events
(``shared.domain.unsent_events``): :func:`track` adds them in the staging batch and
:meth:`Outbox.mark_sent` removes them in the commit that marks them sent, so fulfill finds an
order's unsent events without a query. ``expires_at`` is the TTL field: it is set when the
event is handed over (kept 30 days after that), so a pending event never expires unsent; an
event written by a process with no shop URL configured expires 30 days after its creation
(the outbox cannot grow without bound when no shop listens).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.collections import ORDERS
from shared.adapters.store.reads import read, read_all
from shared.adapters.store.writes import RawBatch
from shared.domain import unsent_events
from shared.domain.order_events import order_event

OUTBOX = "outbox"
KEEP = timedelta(days=30)


new_event = order_event  # the pure builder lives in the domain


def staged_doc(event: dict[str, Any], now: datetime,
               ttl_from_creation: bool = False) -> dict[str, Any]:
    """The outbox document :func:`stage` creates for the event."""
    doc = {**event, "state": "pending", "created_at": now}
    if ttl_from_creation:
        doc["expires_at"] = now + KEEP
    return doc


def staged(events: Sequence[dict[str, Any]], now: datetime,
           ttl_from_creation: bool = False) -> tuple[dict[str, Any], ...]:
    return tuple(staged_doc(e, now, ttl_from_creation) for e in events)


def stage(db: firestore.Client, batch: Any, event: dict[str, Any], now: datetime,
          ttl_from_creation: bool = False) -> None:
    """Add the event to the batch that makes its transition: created once, or the batch fails.
    The same batch lists it on the order (:func:`track`)."""
    batch.create(db.collection(OUTBOX).document(event["event_id"]),
                 staged_doc(event, now, ttl_from_creation))


def track(db: firestore.Client, order_id: str, order: Mapping[str, Any],
          event_ids: Sequence[str]) -> dict[str, Any]:
    """The order's fields that list ``event_ids`` (staged in the same batch) as unsent. An
    order from before the list (``unsent_events.untracked``) lists its pending events too."""
    ids = list(event_ids)
    if unsent_events.untracked(order):
        ids = [str(e["event_id"]) for e in Outbox(db).pending(order_id)] + ids
    return {unsent_events.FIELD: firestore.ArrayUnion(ids)}


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

    def unsent(self, event_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Those of the events that exist and are still pending, oldest first (one read)."""
        if not event_ids:
            return []
        snaps = read_all([self.ref(i) for i in event_ids])
        docs = [d for d in (s.to_dict() or {} for s in snaps if s.exists)
                if d.get("state") == "pending"]
        return sorted(docs, key=lambda d: d.get("created_at") or 0)

    def mark_sent(self, order_id: str, event_ids: Sequence[str], now: datetime,
                  forget: Sequence[str] = ()) -> None:
        """Mark the order's events handed over and take them (and ``forget``: ids it lists
        that are sent or gone) off its unsent list, in one commit. An event that does not
        exist fails it (``NotFound``)."""

        order = self._db.collection(ORDERS).document(order_id)
        batch = self._sent(event_ids, now)
        batch.update(order, {unsent_events.FIELD: firestore.ArrayRemove([*event_ids, *forget])})
        try:
            batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)
        except gexc.NotFound:
            if read(order).exists:
                raise  # an event is missing
            if event_ids:  # the order is gone (its TTL): the events are marked all the same
                self._sent(event_ids, now).commit(retry=RETRY, timeout=CALL_TIMEOUT)

    def _sent(self, event_ids: Sequence[str], now: datetime) -> Any:
        batch = RawBatch(self._db)
        for event_id in event_ids:
            batch.update(self.ref(event_id), {"state": "sent", "sent_at": now,
                                              "expires_at": now + KEEP})
        return batch
