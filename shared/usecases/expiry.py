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
(``ReconcileStore.live_pending_orders``).

An expired order gets ``expires_at`` = expiry + ``EXPIRED_ORDER_KEEP`` (the TTL field). A
payment approved later still reaches it: ``shared.domain.orders.decide`` makes it ``paid`` without
fulfilling it and records the anomaly ``paid_after_expiry`` (ALERT) for an operator to honour
or refund; applying a payment removes ``expires_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.domain.expiry import EXPIRED_ORDER_KEEP, LIVE
from shared.domain.orders import OrderStatus
from shared.platform.config import Settings

__all__ = ["EXPIRED_ORDER_KEEP", "LIVE", "expires_after", "should_expire"]


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
