"""In-memory ``IdempotencyRecords``: the same records and answers as ``IdempotencyStore``.

``ref`` returns the record's id; the order store fakes take it (with ``completion``'s fields)
in ``record_attempt`` / ``record_checkout``, and :meth:`FakeIdempotency.complete` applies
what they were given, as the adapter's batch does.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shared.adapters.store.idempotency import (
    COLLECTION,
    BeginResult,
    RecordStatus,
    Started,
    answer_for,
    is_expired,
    new_record,
    taken_over,
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
        record = new_record(body_digest, new_order_id, now, self._ttl)
        with self.memory.lock:
            data = self._records.get(key_digest)
            if data is None or is_expired(data, now):
                self._records[key_digest] = record
                return Started(new_order_id, resumed=False)
            answer = answer_for(data, body_digest, now)
            if answer is not None:
                return answer
            data.update(taken_over(now))
            return Started(str(data["order_id"]), resumed=True)

    def completion(self, status: int, body: dict[str, Any]) -> dict[str, Any]:
        return {"status": RecordStatus.COMPLETED.value, "response_status": status,
                "response_body": json.dumps(body, separators=(",", ":"))}

    def fail(self, key_digest: str) -> None:
        if key_digest in self._records:  # the adapter swallows a failed write too
            self._records[key_digest]["status"] = RecordStatus.FAILED.value

    def record(self, key_digest: str) -> dict[str, Any] | None:
        return self.memory.read(COLLECTION, key_digest)
