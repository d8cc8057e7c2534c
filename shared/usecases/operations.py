"""Operator actions on orders: refunds and cancellations, each with its own idempotency key.

A refund's Mercado Pago key is derived from (payment, amount, amount already refunded): running
the same command twice by accident refunds once, while a deliberate second partial refund
(after the first has landed) gets a new key. After Mercado Pago accepts, the payment's
canonical state is applied through the fulfil path at once (the notification that follows
changes nothing more).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.adapters.mercadopago.errors import ProviderRejected, ProviderUnavailable, ResourceNotFound
from shared.adapters.mercadopago.refund_errors import refund_refusal
from shared.adapters.mercadopago.requests import RefundResult
from shared.domain.money import format_amount, quantize
from shared.domain.orders import OrderStatus
from shared.domain.records import record
from shared.platform import log
from shared.usecases.fulfil_task import FulfilTask
from shared.usecases.fulfilment import Attempt, Fulfilment
from shared.usecases.ports import OperatorRecords, OrderStore, PaymentGateway

REFUNDABLE = (OrderStatus.PAID.value, OrderStatus.PARTIALLY_REFUNDED.value)
CANCELLABLE_PAYMENT_STATES = ("pending", "in_process", "authorized")


class OperationError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@record(frozen=True)
class OperationResult:
    order_id: str
    action: str
    detail: dict[str, Any]


def refund_key(payment_id: str, amount: Decimal | None, already: Decimal) -> str:
    what = "full" if amount is None else format_amount(amount)
    return hashlib.sha256(f"refund:{payment_id}:{what}:{format_amount(already)}".encode()).hexdigest()


class Operations:
    def __init__(self, orders: OrderStore, fulfilment: Fulfilment,
                 gateway: Callable[[], PaymentGateway], records: OperatorRecords,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._orders = orders
        self._records = records
        self._fulfilment = fulfilment
        self._gateway = gateway
        self._clock = clock

    def _order(self, order_id: str) -> dict[str, Any]:
        order = self._orders.get(order_id)
        if order is None:
            raise OperationError("order_not_found", f"no order {order_id}")
        return order

    def _sync(self, payment_id: str) -> dict[str, Any]:
        outcome = self._fulfilment.sync_payment(
            payment_id, Attempt(1, 1_000), FulfilTask("payment", payment_id, ""))
        return outcome.body()

    def refund(self, order_id: str, amount: Decimal | None,
               again: bool = False) -> OperationResult:
        if amount is not None:
            amount = quantize(amount)
        if not again:
            earlier = self._records.recent_refund(order_id, amount, self._clock())
            if earlier is not None:
                return OperationResult(order_id, "refund", {
                    "repeated": True, "refund_id": earlier.get("refund_id"),
                    "amount": earlier.get("amount"), "refund_status": earlier.get("status"),
                    "payment_id": earlier.get("payment_id"), "refunded_at": earlier.get("at"),
                    "note": "the same refund succeeded less than 10 minutes ago; nothing "
                            "was refunded now (pass --again to refund once more)"})
        order = self._order(order_id)
        if order["status"] not in REFUNDABLE or not order.get("paid_by_payment_id"):
            raise OperationError("not_refundable", f"order is {order['status']}, not paid")
        payment_id = str(order["paid_by_payment_id"])
        total = Decimal(order["amount"])
        already = Decimal(order.get("refunded_amount") or "0")
        if amount is not None and (amount <= 0 or amount > total - already):
            raise OperationError("invalid_amount",
                                 f"refundable: {format_amount(total - already)}")
        key = refund_key(payment_id, amount, already)
        refund = self._refund_at_mercado_pago(payment_id, amount, key,
                                              self._is_pix(payment_id))
        log.info("refund_created", "refund accepted by Mercado Pago", order_id=order_id,
                 payment_id=payment_id, refund_id=refund.id, amount=str(refund.amount),
                 refund_status=refund.status)
        done = {"refund_id": refund.id, "amount": format_amount(refund.amount),
                "refund_status": refund.status, "payment_id": payment_id}
        self._records.remember_refund(order_id, amount, done, self._clock())
        applied = self._sync(payment_id)
        if refund.status == "in_process":
            # Held in contingency (PIX): pending, not refused. The order follows when
            # Mercado Pago confirms it (its notification moves the payment).
            applied["note"] = "refund in process at Mercado Pago; the order follows when " \
                              "it is confirmed"
        return OperationResult(order_id, "refund", {**done, **applied})

    def _is_pix(self, payment_id: str) -> bool:
        stored = self._records.payment(payment_id)
        return bool(stored and stored.get("payment_method_id") == "pix")

    def _refund_at_mercado_pago(self, payment_id: str, amount: Decimal | None, key: str,
                                pix: bool) -> RefundResult:
        try:
            return self._gateway().refund(payment_id, amount, key, render_in_process=pix)
        except ProviderRejected as exc:
            code, message = refund_refusal(exc.cause_codes, exc.reason)
            raise OperationError(code, message) from exc
        except (ProviderUnavailable, ResourceNotFound) as exc:
            raise OperationError("provider_unavailable",
                                 "Mercado Pago did not answer; run again (same key)") from exc

    def refund_payment(self, payment_id: str) -> OperationResult:
        """Refund an approved orphan payment (see shared.domain.anomalies) in full."""
        orphan = self._records.orphan(payment_id)
        if orphan is None:
            raise OperationError("not_an_orphan", f"payment {payment_id} is not a recorded "
                                 "orphan payment (see mpctl anomalies list); refund orders "
                                 "with mpctl refund ORDER_ID")
        try:
            payment = self._gateway().get_payment(payment_id)
        except (ProviderUnavailable, ResourceNotFound) as exc:
            raise OperationError("provider_unavailable", "Mercado Pago did not answer") from exc
        if payment.status != "approved":
            raise OperationError("not_refundable", f"the payment is {payment.status}")
        key = hashlib.sha256(f"refund-payment:{payment_id}".encode()).hexdigest()
        refund = self._refund_at_mercado_pago(payment_id, None, key,
                                              payment.payment_method_id == "pix")
        done = {"refund_id": refund.id, "amount": format_amount(refund.amount),
                "refund_status": refund.status}
        self._records.mark_orphan_refunded(payment_id, done, self._clock())
        log.info("orphan_refunded", "orphan payment refunded", payment_id=payment_id,
                 refund_id=refund.id, refund_status=refund.status)
        return OperationResult(str(orphan.get("external_reference") or ""), "refund_payment",
                               {"payment_id": payment_id, **done})

    def cancel(self, order_id: str) -> OperationResult:
        order = self._order(order_id)
        if order["status"] != OrderStatus.PENDING.value:
            raise OperationError("not_cancellable", f"order is {order['status']}")
        last = order.get("last_payment") or {}
        payment_id = order.get("last_payment_id")
        if payment_id and last.get("status") in CANCELLABLE_PAYMENT_STATES:
            key = hashlib.sha256(f"cancel:{payment_id}".encode()).hexdigest()
            try:
                self._gateway().cancel(str(payment_id), key)
            except ProviderRejected as exc:
                raise OperationError("cancel_refused",
                                     f"Mercado Pago refused: {exc.reason}") from exc
            except (ProviderUnavailable, ResourceNotFound) as exc:
                raise OperationError("provider_unavailable",
                                     "Mercado Pago did not answer; run again") from exc
            return OperationResult(order_id, "cancel", {"payment_id": payment_id,
                                                        **self._sync(str(payment_id))})
        if payment_id and last.get("status") not in ("rejected", "cancelled", None):
            raise OperationError("not_cancellable",
                                 f"its payment is {last.get('status')}; refund instead")
        self._orders.cancel_unpaid(order_id, self._clock())
        self._fulfilment.flush_events(order_id)
        return OperationResult(order_id, "cancel", {"order_status": "cancelled"})
