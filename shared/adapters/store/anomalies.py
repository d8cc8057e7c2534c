"""``anomalies/{kind}-{payment_id}``: payments kept for an operator (see shared.domain.anomalies)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.reads import read
from shared.domain.anomalies import ORPHAN_PAYMENT, orphan_id
from shared.domain.money import format_amount

ANOMALIES = "anomalies"


def _payment_fields(snap: PaymentSnapshot, now: datetime) -> dict[str, Any]:
    return {"status": snap.status, "status_detail": snap.status_detail,
            "refunded_amount": format_amount(snap.refunded_amount), "updated_at": now}


def record_orphan(db: firestore.Client, snap: PaymentSnapshot, now: datetime) -> bool:
    """Record (or refresh) an orphan payment; True when it is new."""
    ref = db.collection(ANOMALIES).document(orphan_id(snap.id))
    try:
        ref.create({
            "kind": ORPHAN_PAYMENT, "payment_id": snap.id,
            "external_reference": snap.external_reference, "order_id": None,
            "payment_amount": format_amount(snap.amount), "payment_currency": snap.currency,
            "payment_method_id": snap.payment_method_id, "live_mode": snap.live_mode,
            "date_created": snap.date_created, "at": now, "resolved": False,
            **_payment_fields(snap, now)}, retry=RETRY, timeout=CALL_TIMEOUT)
    except gexc.AlreadyExists:
        ref.update(_payment_fields(snap, now), retry=RETRY, timeout=CALL_TIMEOUT)
        return False
    return True


def get_orphan(db: firestore.Client, payment_id: str) -> dict[str, Any] | None:
    snap = read(db.collection(ANOMALIES).document(orphan_id(payment_id)))
    return snap.to_dict() if snap.exists else None


def mark_orphan_refunded(db: firestore.Client, payment_id: str, refund: dict[str, Any],
                         now: datetime) -> None:
    db.collection(ANOMALIES).document(orphan_id(payment_id)).update(
        {"resolved": True, "resolution": "refunded", "refund": refund, "resolved_at": now},
        retry=RETRY, timeout=CALL_TIMEOUT)


def list_anomalies(db: firestore.Client, limit: int = 50,
                   kind: str | None = None) -> list[dict[str, Any]]:
    """Newest first (single-field order: no composite index); ``kind`` filters in memory."""
    query = db.collection(ANOMALIES).order_by("at", direction=firestore.Query.DESCENDING)
    found = []
    for doc in query.stream(retry=RETRY, timeout=CALL_TIMEOUT):
        data = doc.to_dict() or {}
        if kind is None or data.get("kind") == kind:
            found.append({"id": doc.id, **data})
            if len(found) >= limit:
                break
    return found
