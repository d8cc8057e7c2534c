"""Refunds: ``POST/GET /v1/payments/{id}/refunds``, full or partial, idempotent per key.

Only approved payments (including partially refunded ones, which stay ``approved``) can be
refunded, within ``REFUND_WINDOW_DAYS`` of approval. Each refund goes through
``Payments.change_status`` (``approved``/``partially_refunded`` or ``refunded``/``refunded``),
so it notifies ``payment.updated``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import clock
from .config import SimulatorConfig
from .errors import bad_request, not_found
from .ids import IdSequence
from .payments import Payments
from .store import Doc, Store

REFUND_WINDOW_DAYS = 180
INVALID_STATE = "The action requested is not valid for the current payment state"


class Refunds:
    def __init__(self, config: SimulatorConfig, store: Store, payments: Payments) -> None:
        self._config = config
        self._store = store
        self._payments = payments
        self._ids = IdSequence(1_000_000_000, 2_000_000_000)

    def list(self, payment_id: str) -> list[Doc]:
        refunds: list[Doc] = self._payments.get(payment_id)["refunds"]
        return refunds

    def get(self, payment_id: str, refund_id: str) -> Doc:
        for refund in self.list(payment_id):
            if str(refund["id"]) == refund_id:
                return refund
        raise not_found("Refund not found", 2000)

    def create(self, payment_id: str, body: Any, idempotency_key: str | None) -> tuple[Doc, bool]:
        if not idempotency_key:
            raise bad_request("Header X-Idempotency-Key can't be null", "idempotency_key")
        if len(idempotency_key) > 64:
            raise bad_request("X-Idempotency-Key must have 1 to 64 characters", "idempotency_key")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise bad_request("Invalid request body", 4000)
        pid = self._payments.get(payment_id)["id"]

        def make() -> tuple[int, Doc]:
            doc = self._payments.get(pid)  # under the store lock: no concurrent refund
            if doc["status"] != "approved":
                raise bad_request(INVALID_STATE, 2063)
            approved = doc.get("date_approved") or doc["date_created"]
            now = clock.now()
            if clock.parse_iso(approved) < now - timedelta(days=REFUND_WINDOW_DAYS):
                raise bad_request(
                    f"Refunds are allowed up to {REFUND_WINDOW_DAYS} days after approval", 2063
                )
            total = float(doc["transaction_amount"])
            already = float(doc.get("transaction_amount_refunded") or 0)
            remaining = round(total - already, 2)
            raw = body.get("amount")
            if raw is None:
                amount = remaining
            else:
                if isinstance(raw, bool) or not isinstance(raw, int | float):
                    raise bad_request("amount invalid", 4040)
                amount = round(float(raw), 2)
                if amount <= 0:
                    raise bad_request("amount must be positive", 4041)
                if amount > remaining + 0.001:
                    raise bad_request("amount invalid", 4040)
            if amount <= 0:
                raise bad_request(INVALID_STATE, 2063)
            refund_id = self._ids.next()
            refund: Doc = {
                "id": refund_id,
                "payment_id": pid,
                "amount": amount,
                "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict)
                else {},
                "source": {
                    "id": str(self._config.user_id),
                    "name": "MP Simulator collector",
                    "type": "collector",
                },
                "date_created": clock.iso(now),
                "unique_sequence_number": None,
                "refund_mode": "standard",
                "adjustment_amount": 0,
                "status": "approved",
                "reason": None,
                "labels": [],
                "amount_refunded_to_payer": amount,
                "partition_details": [],
            }
            refunded = round(already + amount, 2)
            full = refunded >= total - 0.001

            def record(p: Doc) -> None:
                p["transaction_amount_refunded"] = refunded
                p["refunds"].append(refund)
                p["transaction_details"]["net_received_amount"] = round(total - refunded, 2)

            if full:
                self._payments.change_status(pid, "refunded", "refunded", mutate=record)
            else:
                self._payments.change_status(pid, "approved", "partially_refunded",
                                             mutate=record)
            return refund_id, refund

        return self._store.idempotent(f"refunds:{pid}", idempotency_key, make,
                                      self._store.refunds)
