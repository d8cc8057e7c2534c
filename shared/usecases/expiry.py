"""Abandoned orders: an unpaid order expires, is cancelled (``order.cancelled``) and is later
deleted by Firestore TTL, only when nothing can still pay it.

- A card (or other direct) order whose attempts were all refused, or never made, for
  ``ORDER_TTL_HOURS`` since its last change: never one whose last recorded attempt is
  ``pending``, ``in_process``, ``authorized`` or ``approved`` (a notification may be missing),
  nor one with any such payment at Mercado Pago. An attempt with an unknown outcome either
  exists at Mercado Pago (and is judged by its status) or, hours later, never will.
- A Checkout Pro order once its preference expired (``CHECKOUT_PRO_EXPIRY_MINUTES``) and
  Mercado Pago has no payment at all for its ``external_reference``. (Offline methods expire
  at their ``date_of_expiration``: Mercado Pago cancels the payment, which cancels the order.)

Reconcile decides while it checks pending orders (it has just searched Mercado Pago for the
order's payments) and, before its oldest-first pass, checks the orders whose last recorded
attempt is still live, so that junk orders can never starve a real one
(``live_pending_orders``).

An expired order gets ``expires_at`` = expiry + ``EXPIRED_ORDER_KEEP`` (the TTL field). A
payment approved later still reaches it: ``shared.domain.orders.decide`` makes it ``paid`` without
fulfilling it and records the anomaly ``paid_after_expiry`` (ALERT) for an operator to honour
or refund; applying a payment removes ``expires_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store import outbox
from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.orders import ORDERS
from shared.domain.money import to_decimal
from shared.domain.orders import OrderStatus
from shared.platform import log
from shared.platform.config import Settings

# Payment states that may still end in an approved payment (or are one).
LIVE = ("pending", "in_process", "authorized", "approved")
EXPIRED_ORDER_KEEP = timedelta(days=30)


def expires_after(order: dict[str, Any], settings: Settings) -> datetime | None:
    """The moment from which the order may expire (None: it has no usable timestamps)."""
    if order.get("checkout"):
        created = order.get("created_at")
        return (created + timedelta(minutes=settings.checkout_pro_expiry_minutes)
                if isinstance(created, datetime) else None)
    last = order.get("updated_at") or order.get("created_at")
    return last + timedelta(hours=settings.order_ttl_hours) if isinstance(last, datetime) else None


def should_expire(order: dict[str, Any], at_mercado_pago: Iterable[PaymentSnapshot],
                  now: datetime, settings: Settings) -> bool:
    """True when nothing can still pay ``order`` (see the module's rules)."""
    if order.get("status") != OrderStatus.PENDING.value:
        return False
    due = expires_after(order, settings)
    if due is None or now < due:
        return False
    if (order.get("last_payment") or {}).get("status") in LIVE:
        return False
    payments = list(at_mercado_pago)
    if order.get("checkout"):
        return not payments
    return not any(p.status in LIVE for p in payments)


def expire(db: firestore.Client, order: dict[str, Any], read_at: Any, now: datetime,
           ttl_from_creation: bool) -> bool:
    """Cancel the expired order with its ``order.cancelled`` event, unless it changed since it
    was read (``read_at``: the snapshot's update time). True when it was cancelled."""
    order_id = str(order["order_id"])
    ref = db.collection(ORDERS).document(order_id)
    batch = db.batch()
    batch.update(ref, {
        "status": OrderStatus.CANCELLED.value, "updated_at": now, "expired_at": now,
        "expires_at": now + EXPIRED_ORDER_KEEP,
        "history": firestore.ArrayUnion([{"status": OrderStatus.CANCELLED.value, "at": now,
                                          "by": "expiry"}])},
        option=db.write_option(last_update_time=read_at))
    outbox.stage(db, batch, outbox.new_event(
        "order.cancelled", order_id, str(order.get("last_payment_id") or ""),
        to_decimal(order["amount"]), str(order["currency"])), now,
        ttl_from_creation=ttl_from_creation)
    try:
        batch.commit(retry=RETRY, timeout=CALL_TIMEOUT)
    except (gexc.FailedPrecondition, gexc.NotFound, gexc.AlreadyExists):
        return False  # it changed meanwhile: the next run looks again
    log.info("order_expired", "abandoned order cancelled", order_id=order_id,
             checkout_pro=bool(order.get("checkout")))
    return True


def live_pending_orders(db: firestore.Client, threshold: datetime,
                        limit: int) -> list[tuple[dict[str, Any], Any]]:
    """Pending orders whose last recorded attempt is still live, newest first (older ones are
    also reached by reconcile's oldest-first pass): the ones a lost notification leaves
    behind. Junk orders (no attempt, or refused ones) are never among them, however many."""
    query = (db.collection(ORDERS)
             .where(filter=firestore.FieldFilter("status", "==", OrderStatus.PENDING.value))
             .where(filter=firestore.FieldFilter("last_payment.status", "in", list(LIVE)))
             .where(filter=firestore.FieldFilter("created_at", "<=", threshold))
             .order_by("created_at", direction=firestore.Query.DESCENDING).limit(limit))
    return [(d.to_dict() or {}, d.update_time)
            for d in query.stream(retry=RETRY, timeout=CALL_TIMEOUT)]
