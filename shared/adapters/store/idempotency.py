"""Request idempotency records (``idempotency/{sha256(key)}``).

Modelled on Powertools' idempotency utility: a record is created IN_PROGRESS with a
precondition (one winner), holds the payload hash (a reused key with another body is
refused), COMPLETED keeps the answer to replay, a failed attempt keeps its order id so a retry
reuses the same Mercado Pago idempotency key, and an in-progress record expires so a crashed
attempt does not block the key forever. ``expires_at`` is the TTL field; reads treat an
expired record as absent (Firestore's TTL deletes within about a day, not at once).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.reads import read
from shared.domain.records import record

COLLECTION = "idempotency"
IN_PROGRESS_SECONDS = 30


class RecordStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


@record(frozen=True)
class Started:
    """This request runs; ``order_id`` is the order to use (reused after a failed attempt)."""

    order_id: str
    resumed: bool


@record(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


@record(frozen=True)
class KeyReused:
    """Same key, different body."""


@record(frozen=True)
class InProgress:
    """Another request with this key is running now."""


BeginResult = Started | Replay | KeyReused | InProgress


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def payload_hash(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_record(body_digest: str, order_id: str, now: datetime, ttl_seconds: int) -> dict[str, Any]:
    """A request's record as it starts: in progress, expiring after the key's TTL."""
    return {
        "status": RecordStatus.IN_PROGRESS.value,
        "payload_hash": body_digest,
        "order_id": order_id,
        "in_progress_until": now + timedelta(seconds=IN_PROGRESS_SECONDS),
        "created_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds),
    }


def taken_over(now: datetime) -> dict[str, Any]:
    """The fields a retry writes when it takes over a failed or abandoned attempt."""
    return {"status": RecordStatus.IN_PROGRESS.value,
            "in_progress_until": now + timedelta(seconds=IN_PROGRESS_SECONDS)}


def is_expired(data: dict[str, Any], now: datetime) -> bool:
    return data.get("expires_at") is not None and data["expires_at"] <= now


def answer_for(data: dict[str, Any], body_digest: str,
               now: datetime) -> KeyReused | Replay | InProgress | None:
    """What an existing, unexpired record answers a new request with this body; None when the
    request takes the record over (FAILED, or IN_PROGRESS whose owner died: same order id)."""
    if data.get("payload_hash") != body_digest:
        return KeyReused()
    status = data.get("status")
    if status == RecordStatus.COMPLETED.value:
        return completed_answer(data)
    running = data.get("in_progress_until") and data["in_progress_until"] > now
    if status == RecordStatus.IN_PROGRESS.value and running:
        return InProgress()
    return None


def replay_of(data: dict[str, Any], body_digest: str) -> Replay | None:
    """The recorded answer when the record is a completed request with this body."""
    if data.get("status") == RecordStatus.COMPLETED.value and \
            data.get("payload_hash") == body_digest:
        return completed_answer(data)
    return None


def completed_answer(data: dict[str, Any]) -> Replay:
    return Replay(int(data["response_status"]), json.loads(data["response_body"]))


class IdempotencyStore:
    def __init__(self, db: firestore.Client, ttl_seconds: int) -> None:
        self._db = db
        self._ttl = ttl_seconds

    def ref(self, key_digest: str) -> Any:
        return self._db.collection(COLLECTION).document(key_digest)

    def begin(
        self, key_digest: str, body_digest: str, new_order_id: str, now: datetime
    ) -> BeginResult:
        ref = self.ref(key_digest)
        record = new_record(body_digest, new_order_id, now, self._ttl)
        for _ in range(3):
            try:
                ref.create(record, retry=RETRY, timeout=CALL_TIMEOUT)
                return Started(new_order_id, resumed=False)
            except gexc.AlreadyExists:
                pass
            snap = read(ref)
            if not snap.exists:
                continue
            data = snap.to_dict() or {}
            if is_expired(data, now):
                try:
                    ref.update(record, option=self._db.write_option(
                        last_update_time=snap.update_time))
                    return Started(new_order_id, resumed=False)
                except (gexc.FailedPrecondition, gexc.NotFound):
                    continue
            answer = answer_for(data, body_digest, now)
            if answer is not None:
                return answer
            try:
                ref.update(taken_over(now),
                           option=self._db.write_option(last_update_time=snap.update_time))
                return Started(str(data["order_id"]), resumed=True)
            except (gexc.FailedPrecondition, gexc.NotFound):
                continue
        return InProgress()

    def completion(self, status: int, body: dict[str, Any]) -> dict[str, Any]:
        """The fields that mark a record COMPLETED (written in the caller's batch)."""
        return {
            "status": RecordStatus.COMPLETED.value,
            "response_status": status,
            "response_body": json.dumps(body, separators=(",", ":")),
        }

    def fail(self, key_digest: str) -> None:
        """Mark the attempt failed; a retry with the same key resumes the same order id."""
        # If this write fails too, the in-progress expiry releases the key anyway.
        with contextlib.suppress(gexc.GoogleAPICallError):
            self.ref(key_digest).update(
                {"status": RecordStatus.FAILED.value}, retry=RETRY, timeout=CALL_TIMEOUT
            )
