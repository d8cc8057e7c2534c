"""Dead letters (fulfil tasks that ran out of retries): listing, reading, marking replayed.

Replaying one is a use case (:mod:`shared.usecases.dead_letters`); this module only persists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.ledger import DEAD_LETTERS
from shared.adapters.store.reads import read


def list_dead_letters(db: firestore.Client, limit: int = 50,
                      include_replayed: bool = False) -> list[dict[str, Any]]:
    query: Any = db.collection(DEAD_LETTERS)
    if not include_replayed:
        query = query.where(filter=firestore.FieldFilter("replayed", "==", False))
    query = query.order_by("created_at", direction=firestore.Query.DESCENDING).limit(limit)
    return [{"id": d.id, **(d.to_dict() or {})}
            for d in query.stream(retry=RETRY, timeout=CALL_TIMEOUT)]


def get_dead_letter(db: firestore.Client, letter_id: str) -> dict[str, Any] | None:
    snap = read(db.collection(DEAD_LETTERS).document(letter_id))
    return (snap.to_dict() or {}) if snap.exists else None


def mark_replayed(db: firestore.Client, letter_id: str, replay_count: int, replay_task: str,
                  now: datetime) -> None:
    db.collection(DEAD_LETTERS).document(letter_id).update(
        {"replayed": True, "replayed_at": now, "replay_count": replay_count,
         "replay_task": replay_task}, retry=RETRY, timeout=CALL_TIMEOUT)
