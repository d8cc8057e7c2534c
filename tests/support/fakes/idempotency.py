"""In-memory ``IdempotencyRecords``: the same records and answers as ``IdempotencyStore``.

``ref`` returns the record's id; the order store fakes take it (with ``completion``'s fields)
in ``record_attempt`` / ``record_checkout``, and :meth:`FakeIdempotency.complete` applies
what they were given, as the adapter's batch does.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from shared.adapters.store.idempotency import (
    COLLECTION,
    IN_PROGRESS_SECONDS,
    BeginResult,
    InProgress,
    KeyReused,
    RecordStatus,
    Replay,
    Started,
)
from tests.support.fakes.memory import Faults, Memory


class FakeIdempotency(Faults):
    def __init__(self, memory: Memory | None = None, ttl_seconds: int = 86400) -> None:
        super().__init__()
        self.memory = memory or Memory()
        self._ttl = ttl_seconds

    @property
    def _records(self) -> dict[str, dict[str, Any]]:
        return self.memory.collection(COLLECTION)

    def ref(self, key_digest: str) -> Any:
        return (COLLECTION, key_digest)

    def begin(self, key_digest: str, body_digest: str, new_order_id: str,
              now: datetime) -> BeginResult:
        self._check("begin")
        record = {"status": RecordStatus.IN_PROGRESS.value, "payload_hash": body_digest,
                  "order_id": new_order_id,
                  "in_progress_until": now + timedelta(seconds=IN_PROGRESS_SECONDS),
                  "created_at": now, "expires_at": now + timedelta(seconds=self._ttl)}
        with self.memory.lock:
            data = self._records.get(key_digest)
            if data is None or (data.get("expires_at") is not None
                                and data["expires_at"] <= now):
                self._records[key_digest] = record
                return Started(new_order_id, resumed=False)
            if data.get("payload_hash") != body_digest:
                return KeyReused()
            status = data.get("status")
            if status == RecordStatus.COMPLETED.value:
                return Replay(int(data["response_status"]), json.loads(data["response_body"]))
            running = data.get("in_progress_until") and data["in_progress_until"] > now
            if status == RecordStatus.IN_PROGRESS.value and running:
                return InProgress()
            data.update({"status": RecordStatus.IN_PROGRESS.value,
                         "in_progress_until": now + timedelta(seconds=IN_PROGRESS_SECONDS)})
            return Started(str(data["order_id"]), resumed=True)

    def replay(self, key_digest: str, body_digest: str) -> Replay | None:
        self._check("replay")
        data = self.memory.read(COLLECTION, key_digest) or {}
        if (data.get("status") == RecordStatus.COMPLETED.value
                and data.get("payload_hash") == body_digest):
            return Replay(int(data["response_status"]), json.loads(data["response_body"]))
        return None

    def completion(self, status: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"status": RecordStatus.COMPLETED.value, "response_status": status,
                "response_body": json.dumps(body, separators=(",", ":"))}

    def fail(self, key_digest: str) -> None:
        if key_digest in self._records:  # the adapter swallows a failed write too
            self._records[key_digest]["status"] = RecordStatus.FAILED.value

    def record(self, key_digest: str) -> dict[str, Any] | None:
        return self.memory.read(COLLECTION, key_digest)
