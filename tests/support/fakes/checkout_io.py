"""In-memory ``CheckoutDocuments``: the same reads and the same all-or-nothing opening commit
as ``shared.adapters.store.checkout_io.CheckoutDocuments``, on the shared ``Memory``."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from shared.adapters.store.catalog import PRODUCTS, Product, product_from
from shared.adapters.store.checkout_io import Opening, ReadPlan, Seen
from shared.adapters.store.collections import ORDERS
from shared.adapters.store.idempotency import COLLECTION as RECORDS
from shared.adapters.store.idempotency import new_record
from shared.adapters.store.limits import COUNTER_GRACE_SECONDS, COUNTERS
from tests.support.fakes.memory import Faults, Memory


class FakeCheckoutDocuments(Faults):
    def __init__(self, memory: Memory | None = None, ttl_seconds: int = 86400) -> None:
        super().__init__()
        self.memory = memory or Memory()
        self._ttl = ttl_seconds
        self.reads = 0  # calls of ``read`` (each one round trip in the adapter)
        self.opened = 0  # commits of ``open_order`` that wrote

    def read(self, plan: ReadPlan) -> Seen:
        self._check("read")
        self.reads += 1
        products: dict[str, Product] = {}
        for product_id in plan.product_ids:
            data = self.memory.read(PRODUCTS, product_id)
            product = product_from(product_id, data) if data is not None else None
            if product is not None:
                products[product_id] = product
        counts = {c.doc_id: int((self.memory.read(COUNTERS, c.doc_id) or {}).get("count") or 0)
                  for c in plan.counters}
        order = self.memory.read(ORDERS, plan.order_id) if plan.order_id is not None else None
        record = (self.memory.read(RECORDS, plan.key_digest)
                  if plan.key_digest is not None else None)
        return Seen(products, order, record, counts)

    def open_order(self, opening: Opening) -> bool:
        self._check("open_order")
        with self.memory.lock:
            orders = self.memory.collection(ORDERS)
            if opening.order_id in orders:  # a new id's draft: this very opening, applied
                return True
            records = self.memory.collection(RECORDS)
            if opening.key_digest is not None and opening.key_digest in records:
                return False  # AlreadyExists: nothing written
            counters = self.memory.collection(COUNTERS)
            for c in opening.counters:
                doc = counters.setdefault(c.doc_id, {"kind": c.kind, "count": 0})
                doc["count"] += 1
                doc["expires_at"] = datetime.fromtimestamp(
                    c.window_end + COUNTER_GRACE_SECONDS, UTC)
            if opening.key_digest is not None:
                records[opening.key_digest] = new_record(
                    opening.body_digest, opening.order_id, opening.now, self._ttl)
            orders[opening.order_id] = copy.deepcopy(opening.draft)
            self.opened += 1
            return True

    def counter(self, doc_id: str) -> dict[str, Any] | None:
        return self.memory.read(COUNTERS, doc_id)
