"""Refunds: ``POST/GET /v1/payments/{id}/refunds``, full or partial, idempotent per key.

Only approved payments (including partially refunded ones, which stay ``approved``) can be
refunded, within ``REFUND_WINDOW_DAYS`` of approval. Each refund goes through
``Payments.change_status`` (``approved``/``partially_refunded`` or ``refunded``/``refunded``),
so it notifies ``payment.updated``.

Cause codes as Mercado Pago answers them: 4292 no ``X-Idempotency-Key``, 2063 the payment's
state does not allow it, 4040 the amount is not positive (or more than what remains), 4041
the amount is not a number, 2024 the payment is past the refund window. PIX refunds can be
held in contingency (``POST /_sim/refunds/contingency``): with the header
``X-Render-In-Process-Refunds: true`` the answer is 201 ``status: in_process``, without it a
400, and the refund is confirmed (payment moved and notified) after the set delay.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from . import clock
from .config import SimulatorConfig
from .errors import ApiError, bad_request, not_found
from .ids import IdSequence
from .payments import Payments
from .scheduler import Scheduler
from .store import Doc, Store

REFUND_WINDOW_DAYS = 180
INVALID_STATE = "The action requested is not valid for the current payment state"
MISSING_KEY = 4292


class Refunds:
    def __init__(self, config: SimulatorConfig, store: Store, payments: Payments,
                 scheduler: Scheduler | None = None) -> None:
        self._config = config
        self._store = store
        self._payments = payments
        self._scheduler = scheduler or Scheduler()
        self._ids = IdSequence(1_000_000_000, 2_000_000_000)
        self._contingency = {"count": 0, "seconds": 1.0}

    def set_contingency(self, count: int, seconds: float) -> dict[str, Any]:
        """The next ``count`` PIX refunds stay ``in_process`` for ``seconds``."""
        self._contingency = {"count": count, "seconds": seconds}
        return dict(self._contingency)

    def reset(self) -> None:
        self._contingency = {"count": 0, "seconds": 1.0}

    def list(self, payment_id: str) -> list[Doc]:
        refunds: list[Doc] = self._payments.get(payment_id)["refunds"]
        return refunds

    def get(self, payment_id: str, refund_id: str) -> Doc:
        for refund in self.list(payment_id):
            if str(refund["id"]) == refund_id:
                return refund
        raise not_found("Refund not found", 2000)

    def create(self, payment_id: str, body: Any, idempotency_key: str | None,
               render_in_process: bool = False) -> tuple[Doc, bool]:
        if not idempotency_key:
            raise bad_request("Header X-Idempotency-Key can't be null", MISSING_KEY)
        if len(idempotency_key) > 64:
            raise bad_request("X-Idempotency-Key must have 1 to 64 characters", MISSING_KEY)
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
                    f"Refunds are allowed up to {REFUND_WINDOW_DAYS} days after approval", 2024
                )
            total = float(doc["transaction_amount"])
            already = float(doc.get("transaction_amount_refunded") or 0)
            held = sum(float(r["amount"]) for r in doc["refunds"] if r["status"] == "in_process")
            remaining = round(total - already - held, 2)
            raw = body.get("amount")
            if raw is None:
                amount = remaining
            else:
                if isinstance(raw, bool) or not isinstance(raw, int | float):
                    raise bad_request("amount must be numeric", 4041)
                amount = round(float(raw), 2)
                if amount <= 0:
                    raise bad_request("amount must be positive", 4040)
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
            if doc["payment_method_id"] == "pix" and self._contingency["count"] > 0:
                self._contingency["count"] -= 1
                refund["status"] = "in_process"
                self._store.payments.update(pid, lambda p: p["refunds"].append(dict(refund)))
                self._scheduler.call_later(float(self._contingency["seconds"]),
                                           lambda: self._confirm(pid, refund_id))
                return refund_id, refund
            self._settle(pid, refund)
            return refund_id, refund

        doc, created = self._store.idempotent(f"refunds:{pid}", idempotency_key, make,
                                              self._store.refunds)
        if doc["status"] == "in_process" and not render_in_process:
            # Without the header Mercado Pago reports a held refund as a 400.
            raise ApiError(400, "The refund is in process", [])
        return doc, created

    def _settle(self, pid: int, refund: Doc) -> None:
        """Move the payment by an approved refund (and notify)."""
        refund_id = refund["id"]
        with self._store.lock:  # the refunded total is computed and written under one lock
            doc = self._payments.get(pid)
            total = float(doc["transaction_amount"])
            refunded = round(float(doc.get("transaction_amount_refunded") or 0)
                             + float(refund["amount"]), 2)

            def record(p: Doc) -> None:
                p["transaction_amount_refunded"] = refunded
                p["refunds"] = [r for r in p["refunds"] if r["id"] != refund_id] + [refund]
                p["transaction_details"]["net_received_amount"] = round(total - refunded, 2)

            self._move(pid, refunded >= total - 0.001, record)

    def _move(self, pid: int, full: bool, record: Callable[[Doc], None]) -> None:
        if full:
            self._payments.change_status(pid, "refunded", "refunded", mutate=record)
        else:
            self._payments.change_status(pid, "approved", "partially_refunded", mutate=record)

    def _confirm(self, pid: int, refund_id: int) -> None:
        """The contingency is over: the held refund is approved."""
        held = self._store.refunds.get(refund_id)
        if held is None or held["status"] != "in_process":
            return
        held["status"] = "approved"
        self._store.refunds.put(refund_id, held)
        self._settle(pid, dict(held))
