"""In-memory state: resource collections (JSON documents) and idempotency keys.

Every read hands out a deep copy, so callers never share a document with another thread.
New resources (preferences, refunds, merchant orders, chargebacks...) get their own
``Collection`` here; ``Store.lock`` serialises compound operations across collections.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Hashable
from typing import Any

Doc = dict[str, Any]


class Collection:
    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._docs: dict[Hashable, Doc] = {}

    def put(self, key: Hashable, doc: Doc) -> None:
        with self._lock:
            self._docs[key] = copy.deepcopy(doc)

    def get(self, key: Hashable) -> Doc | None:
        with self._lock:
            doc = self._docs.get(key)
            return copy.deepcopy(doc) if doc is not None else None

    def update(self, key: Hashable, change: Callable[[Doc], None]) -> tuple[Doc, Doc] | None:
        """Apply ``change`` in place under the lock; return copies (before, after)."""
        with self._lock:
            doc = self._docs.get(key)
            if doc is None:
                return None
            before = copy.deepcopy(doc)
            change(doc)
            return before, copy.deepcopy(doc)

    def values(self) -> list[Doc]:
        with self._lock:
            return [copy.deepcopy(d) for d in self._docs.values()]

    def __len__(self) -> int:
        with self._lock:
            return len(self._docs)

    def clear(self) -> None:
        with self._lock:
            self._docs.clear()


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.card_tokens = Collection(self.lock)
        self.payments = Collection(self.lock)
        self.refunds = Collection(self.lock)  # refund id -> refund (also in payment.refunds)
        self.chargebacks = Collection(self.lock)
        self.preferences = Collection(self.lock)
        self.merchant_orders = Collection(self.lock)
        self._idempotency: dict[tuple[str, str], Hashable] = {}
        self.device_sessions: dict[int, str] = {}  # payment id -> X-meli-session-id

    def idempotent(
        self,
        scope: str,
        key: str,
        create: Callable[[], tuple[Hashable, Doc]],
        collection: Collection,
    ) -> tuple[Doc, bool]:
        """Return the resource stored under (scope, key), or create it once.

        ``create`` runs under the store lock, so two concurrent requests with one key create
        one resource. Returns (document, created).
        """
        with self.lock:
            existing = self._idempotency.get((scope, key))
            if existing is not None:
                doc = collection.get(existing)
                if doc is not None:
                    return doc, False
            resource_id, doc = create()
            collection.put(resource_id, doc)
            self._idempotency[(scope, key)] = resource_id
            return copy.deepcopy(doc), True

    def reset(self) -> None:
        with self.lock:
            self.card_tokens.clear()
            self.payments.clear()
            self.refunds.clear()
            self.chargebacks.clear()
            self.preferences.clear()
            self.merchant_orders.clear()
            self._idempotency.clear()
            self.device_sessions.clear()
