"""Firestore side of the abuse limits (``shared.domain.limits``): counters and per-order slots.

- ``rate_limits/{kind}-{subject hash}-{window start}``: ``{kind, count, expires_at}``, one
  document per subject and fixed window, incremented with ``Increment`` (no transaction, no
  read-modify-write). ``expires_at`` (TTL) is the window's end plus a minute. Under the default
  limits no document takes more than one write a second (a window's writes stop at its limit).
- ``order_attempt_slots/{order_id}-{n}``: ``{order_id, at, expires_at}``, n = 2..limit (the
  attempt that creates an order is its first). An attempt on an existing order claims one with
  a create precondition, so however many attempts race, at most ``limit`` get one.

One attempt's counters and its slot are written in one batch commit: a commit whose slot is
taken writes nothing. An attempt tries every slot, in random order (racing attempts spread
over the slots instead of queueing on one; so the order's attempt count says nothing about
which slots are free); an attempt that finds them all taken is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store.client import RETRY
from shared.adapters.store.reads import read_all
from shared.adapters.store.writes import RawBatch
from shared.domain.limits import Counter

COUNTERS = "rate_limits"
SLOTS = "order_attempt_slots"
SLOT_TTL = timedelta(days=30)
COUNTER_GRACE_SECONDS = 60
# Reads and commits of the limit documents may queue behind a burst's racing writes of the
# same documents (the emulator locks them pessimistically): they get a longer deadline than
# other Firestore calls, and a lost race is an answer (429), not an outage.
LIMIT_TIMEOUT = 15.0
LIMIT_RETRY = RETRY.with_timeout(LIMIT_TIMEOUT)
ABORTED_TRIES = 4  # an aborted commit wrote nothing: it is tried again this many times in all


def counter_ref(db: Any, c: Counter) -> Any:
    return db.collection(COUNTERS).document(c.doc_id)


def stage_increment(db: Any, batch: Any, c: Counter) -> None:
    """Count one attempt in ``c``'s window, in the caller's batch."""
    expires = datetime.fromtimestamp(c.window_end + COUNTER_GRACE_SECONDS, UTC)
    batch.set(counter_ref(db, c), {"kind": c.kind, "count": firestore.Increment(1),
                                   "expires_at": expires}, merge=True)


class LimitStore:
    def __init__(self, db: Any) -> None:
        self._db = db

    def _counter_ref(self, c: Counter) -> Any:
        return counter_ref(self._db, c)

    def counts(self, counters: list[Counter]) -> dict[str, int]:
        """The current count of each counter's window (one read for all of them)."""
        if not counters:
            return {}
        refs = [self._counter_ref(c) for c in counters]
        found: dict[str, int] = {}
        for snap in read_all(refs, retry=LIMIT_RETRY, timeout=LIMIT_TIMEOUT):
            if snap.exists:
                found[snap.id] = int((snap.to_dict() or {}).get("count") or 0)
        return found

    def commit(self, counters: list[Counter], slot: str | None, order_id: str,
               now: datetime) -> bool:
        """Count the attempt (and claim ``slot``) in one commit; False when the slot is taken
        (then nothing was written)."""
        for _ in range(ABORTED_TRIES):
            batch = RawBatch(self._db)
            if slot is not None:
                batch.create(self._db.collection(SLOTS).document(slot),
                             {"order_id": order_id, "at": now, "expires_at": now + SLOT_TTL})
            for c in counters:
                stage_increment(self._db, batch, c)
            try:
                batch.commit(retry=LIMIT_RETRY, timeout=LIMIT_TIMEOUT)
            except gexc.AlreadyExists:
                return False
            except gexc.Aborted:
                # Lost a lock race (the emulator aborts contended writes after a while), on the
                # slot or on a shared counter: nothing was written, and the slot may still be
                # free, so the same commit is tried again rather than the slot given up.
                continue
            return True
        return False
