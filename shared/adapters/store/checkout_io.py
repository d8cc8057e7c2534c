"""create_payment's documents across stores, in as few round trips as its path allows.

- ``read``: the documents a payment attempt needs first, in one batched read: the catalog's
  products (a new order) or the order (a re-payment), the ``Idempotency-Key``'s record and
  the windowed attempt counters (``rate_limits``). They do not depend on each other.
- ``open_order``: a new order's writes before Mercado Pago is called, in one atomic commit:
  the attempt counters' increments, the request record's create and the draft order's
  create. The creates carry their exists=False precondition: when one fails (the key was
  claimed meanwhile), nothing was written and the caller takes the sequential path
  (``LimitStore.commit``, ``IdempotencyStore.begin``, ``OrderRepository.create_draft``),
  which answers every case of an existing record.

The draft's id must be new (``new_order_id``): then a draft that exists after a failed create
was written by this very commit (the client's retry re-sent a commit that had applied), and
``open_order`` answers True.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc

from shared.adapters.store.catalog import PRODUCTS, Product, product_from
from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.collections import ORDERS
from shared.adapters.store.idempotency import COLLECTION as RECORDS
from shared.adapters.store.idempotency import new_record
from shared.adapters.store.limits import (
    ABORTED_TRIES,
    COUNTERS,
    LIMIT_RETRY,
    LIMIT_TIMEOUT,
    stage_increment,
)
from shared.adapters.store.reads import read, read_all
from shared.adapters.store.writes import RawBatch
from shared.domain.limits import Counter
from shared.domain.records import record


@record(frozen=True)
class ReadPlan:
    """What to read: every part is optional."""

    product_ids: tuple[str, ...] = ()
    order_id: str | None = None  # an existing order (a re-payment)
    key_digest: str | None = None  # the request record ``idempotency/{key_digest}``
    counters: tuple[Counter, ...] = ()


@record(frozen=True)
class Seen:
    """What was read. ``record`` is the request record as stored (None: there is none);
    ``counts`` holds every counter read (0: no document yet in its window)."""

    products: dict[str, Product] = field(default_factory=dict)
    order: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    counts: dict[str, int] = field(default_factory=dict)


@record(frozen=True)
class Opening:
    """A new order's writes before the charge: ``draft`` (with a new ``order_id``), the
    counters to increment and, with an ``Idempotency-Key``, its in-progress record."""

    draft: dict[str, Any]
    now: datetime
    counters: tuple[Counter, ...] = ()
    key_digest: str | None = None
    body_digest: str = ""

    @property
    def order_id(self) -> str:
        return str(self.draft["order_id"])


class CheckoutDocuments:
    def __init__(self, db: Any, idempotency_ttl_seconds: int) -> None:
        self._db = db
        self._ttl = idempotency_ttl_seconds

    def read(self, plan: ReadPlan) -> Seen:
        """One batched read of every document in ``plan``."""
        wanted: dict[str, tuple[str, str]] = {}

        def want(collection: str, doc_id: str) -> None:
            ref = self._db.collection(collection).document(doc_id)
            wanted[ref.path] = (collection, doc_id)

        for product_id in plan.product_ids:
            want(PRODUCTS, product_id)
        if plan.order_id is not None:
            want(ORDERS, plan.order_id)
        if plan.key_digest is not None:
            want(RECORDS, plan.key_digest)
        for c in plan.counters:
            want(COUNTERS, c.doc_id)
        seen = Seen(counts={c.doc_id: 0 for c in plan.counters})
        if not wanted:
            return seen
        refs = [self._db.collection(c).document(d) for c, d in wanted.values()]
        # Counters may queue behind a burst's writes of the same documents (LimitStore).
        retry, timeout = (LIMIT_RETRY, LIMIT_TIMEOUT) if plan.counters else (RETRY, CALL_TIMEOUT)
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for snap in read_all(refs, retry=retry, timeout=timeout):
            if snap.exists:
                found[wanted[snap.reference.path]] = snap.to_dict() or {}
        return _seen(plan, found)

    def open_order(self, opening: Opening) -> bool:
        """Counters, request record and draft in one commit; False when a create found its
        document (then nothing was written)."""
        for _ in range(ABORTED_TRIES):
            batch = RawBatch(self._db)
            for c in opening.counters:
                stage_increment(self._db, batch, c)
            if opening.key_digest is not None:
                batch.create(self._db.collection(RECORDS).document(opening.key_digest),
                             new_record(opening.body_digest, opening.order_id, opening.now,
                                        self._ttl))
            batch.create(self._order_ref(opening.order_id), opening.draft)
            try:
                batch.commit(retry=LIMIT_RETRY, timeout=LIMIT_TIMEOUT)
            except gexc.AlreadyExists:
                # A new id's draft exists only if this commit applied and was re-sent.
                return read(self._order_ref(opening.order_id)).exists
            except gexc.Aborted:
                continue  # a lost lock race on a shared counter: nothing was written
            return True
        return False

    def _order_ref(self, order_id: str) -> Any:
        return self._db.collection(ORDERS).document(order_id)


def _seen(plan: ReadPlan, found: dict[tuple[str, str], dict[str, Any]]) -> Seen:
    products: dict[str, Product] = {}
    for product_id in plan.product_ids:
        data = found.get((PRODUCTS, product_id))
        product = product_from(product_id, data) if data is not None else None
        if product is not None:
            products[product_id] = product
    counts = {c.doc_id: int(found.get((COUNTERS, c.doc_id), {}).get("count") or 0)
              for c in plan.counters}
    order = found.get((ORDERS, plan.order_id)) if plan.order_id is not None else None
    record = found.get((RECORDS, plan.key_digest)) if plan.key_digest is not None else None
    return Seen(products, order, record, counts)
