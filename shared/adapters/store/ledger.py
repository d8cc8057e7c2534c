"""Bookkeeping records: processed notification ids and dead letters.

Processed ids carry ``expires_at`` (a Firestore TTL field), so they do not grow forever. A
payment notification's id is written in the commit that applies the payment when there is one
(:meth:`Ledger.processed_record` builds it, ``OrderRepository.apply_payment`` writes it), alone
(:meth:`Ledger.mark_processed`) otherwise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.domain.records import record

PROCESSED = "processed_notifications"
DEAD_LETTERS = "dead_letters"


@record(frozen=True)
class Processed:
    """A ``processed_notifications/{notification_id}`` document, to be written by whoever
    commits next."""

    notification_id: str
    doc: dict[str, Any]


def processed_doc(fields: dict[str, Any], now: datetime, ttl: timedelta) -> dict[str, Any]:
    return {**fields, "processed_at": now, "expires_at": now + ttl}


class Ledger:
    def __init__(self, db: firestore.Client, processed_ttl_days: int) -> None:
        self._db = db
        self._ttl = timedelta(days=processed_ttl_days)

    def processed_record(self, notification_id: str, fields: dict[str, Any],
                         now: datetime) -> Processed:
        """The record :meth:`mark_processed` writes, for another commit to carry (no I/O)."""
        return Processed(notification_id, processed_doc(fields, now, self._ttl))

    def mark_processed(self, notification_id: str, fields: dict[str, Any], now: datetime) -> None:
        self._db.collection(PROCESSED).document(notification_id).set(
            processed_doc(fields, now, self._ttl), retry=RETRY, timeout=CALL_TIMEOUT)

    def record_dead_letter(
        self, letter_id: str, reason: str, task: dict[str, Any], attempts: int, now: datetime,
        detail: str = "",
    ) -> None:
        ref = self._db.collection(DEAD_LETTERS).document(letter_id)
        try:
            ref.create({
                "reason": reason, "detail": detail, "task": task, "attempts": attempts,
                "created_at": now, "updated_at": now, "replayed": False,
            }, retry=RETRY, timeout=CALL_TIMEOUT)
        except gexc.AlreadyExists:
            ref.update({"reason": reason, "detail": detail, "attempts": attempts,
                        "updated_at": now}, retry=RETRY, timeout=CALL_TIMEOUT)
