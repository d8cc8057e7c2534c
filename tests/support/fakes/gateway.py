"""In-memory ``PaymentGateway``: Mercado Pago as the simulator (``local/mp_simulator``) plays
it, through the same typed values and errors as ``MercadoPagoGateway``.

- Card outcomes by test cardholder name (``card_token("APRO" | "OTHE" | "CONT" ...)``).
- A repeated idempotency key answers the first result (payments, refunds, cancellations).
- Unknown resources raise ``ResourceNotFound``; refusals ``ProviderRejected`` with Mercado
  Pago's cause codes; ``fail_next(method, ProviderUnavailable(...))`` for outages.
- Tests move a payment with ``set_status`` (as the simulator's ``/_sim`` control calls do).
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from shared.adapters.mercadopago.errors import ProviderRejected, ResourceNotFound
from shared.adapters.mercadopago.gateway import order_filters, updated_filters
from shared.adapters.mercadopago.models import (
    CardTokenSnapshot,
    ChargebackSnapshot,
    MerchantOrderSnapshot,
    PaymentSnapshot,
)
from shared.adapters.mercadopago.requests import (
    PaymentRequest,
    PreferenceCreated,
    PreferenceRequest,
    RefundResult,
)
from shared.domain.money import quantize
from tests.support.fakes.memory import Faults

MP_TIME = timezone(timedelta(hours=-4))
CARD_OUTCOMES = {
    "APRO": ("approved", "accredited"),
    "OTHE": ("rejected", "cc_rejected_other_reason"),
    "CONT": ("in_process", "pending_contingency"),
    "CALL": ("rejected", "cc_rejected_call_for_authorize"),
    "FUND": ("rejected", "cc_rejected_insufficient_amount"),
}
CANCELLABLE = ("pending", "in_process", "authorized")


def _rejected(message: str, code: int) -> ProviderRejected:
    return ProviderRejected(400, {"message": message, "error": "bad_request", "status": 400,
                                  "cause": [{"code": code, "description": message}]})


class FakeGateway(Faults):
    def __init__(self, currency: str = "BRL", start: datetime | None = None) -> None:
        super().__init__()
        self.currency = currency
        self.payments: dict[str, PaymentSnapshot] = {}
        self.merchant_orders: dict[str, MerchantOrderSnapshot] = {}
        self.chargebacks: dict[str, ChargebackSnapshot] = {}
        self.refunds: dict[str, list[RefundResult]] = {}
        self.requests: list[PaymentRequest] = []
        # (payment_id, amount, idempotency key, render_in_process) of every refund call
        self.refund_calls: list[tuple[str, Any, str, bool]] = []
        # A refund contingency (as the simulator's): refunds are held ``in_process``; with
        # ``render_in_process`` answered 201 in_process, without it refused (400).
        self.hold_refunds = False
        self.preferences: list[PreferenceRequest] = []
        self._tokens: dict[str, str] = {}
        # Spent tokens stay readable (``GET /v1/card_tokens/{id}`` answers them, status
        # ``used``, as the simulator does); paying with one again is refused.
        self._used: set[str] = set()
        self._by_key: dict[tuple[str, str], Any] = {}
        self._ids = itertools.count(1_000_001)
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    # -- test controls -------------------------------------------------------------------
    def _tick(self) -> str:
        self._now += timedelta(milliseconds=1)
        return self._now.astimezone(MP_TIME).isoformat(timespec="milliseconds")

    def card_token(self, cardholder: str = "APRO") -> str:
        token = f"tok{next(self._ids)}"
        self._tokens[token] = cardholder
        return token

    def add_payment(self, order_id: str, amount: Decimal | str, status: str = "approved",
                    status_detail: str = "accredited", *, payment_id: str | None = None,
                    payment_method_id: str = "master", currency: str | None = None,
                    refunded: Decimal | str = "0") -> PaymentSnapshot:
        moment = self._tick()
        snap = PaymentSnapshot(
            id=payment_id or str(next(self._ids)), status=status, status_detail=status_detail,
            amount=quantize(Decimal(amount)), currency=currency or self.currency,
            external_reference=order_id, date_created=moment, date_last_updated=moment,
            payment_method_id=payment_method_id,
            payment_type_id="bank_transfer" if payment_method_id == "pix" else "credit_card",
            refunded_amount=Decimal(refunded))
        self.payments[snap.id] = snap
        return snap

    def set_status(self, payment_id: str, status: str, status_detail: str,
                   **changes: Any) -> PaymentSnapshot:
        snap = replace(self.payments[payment_id], status=status, status_detail=status_detail,
                       date_last_updated=self._tick(), **changes)
        self.payments[payment_id] = snap
        return snap

    def add_merchant_order(self, merchant_order_id: str, order_id: str,
                           payment_ids: tuple[str, ...]) -> None:
        self.merchant_orders[merchant_order_id] = MerchantOrderSnapshot(
            merchant_order_id, order_id, "opened", payment_ids)

    def add_chargeback(self, chargeback_id: str, payment_ids: tuple[str, ...]) -> None:
        self.chargebacks[chargeback_id] = ChargebackSnapshot(chargeback_id, payment_ids)

    def _once(self, kind: str, key: str | None, make: Any) -> Any:
        if key and (kind, key) in self._by_key:
            return self._by_key[(kind, key)]
        result = make()
        if key:
            self._by_key[(kind, key)] = result
        return result

    # -- the port ------------------------------------------------------------------------
    def create_payment(self, request: PaymentRequest) -> PaymentSnapshot:
        self._check("create_payment")

        def make() -> PaymentSnapshot:
            self.requests.append(request)
            status, detail = "pending", "pending_waiting_payment"  # offline methods
            if request.token is not None:
                if request.token not in self._tokens:
                    raise _rejected("Card Token not found", 2006)
                if request.token in self._used:
                    raise _rejected("Invalid card_token_id: already used", 3003)
                self._used.add(request.token)
                status, detail = CARD_OUTCOMES.get(self._tokens[request.token].upper(),
                                                   CARD_OUTCOMES["APRO"])
            return self.add_payment(request.external_reference, request.amount, status, detail,
                                    payment_method_id=request.payment_method_id)

        snap: PaymentSnapshot = self._once("payment", request.idempotency_key, make)
        return self.payments[snap.id]

    def get_card_token(self, token_id: str) -> CardTokenSnapshot:
        self._check("get_card_token")
        if token_id not in self._tokens:
            raise ResourceNotFound("Mercado Pago does not know this resource")
        return CardTokenSnapshot("503143", "6351", 11, 2030)

    def get_payment(self, payment_id: str) -> PaymentSnapshot:
        self._check("get_payment")
        if payment_id not in self.payments:
            raise ResourceNotFound("Mercado Pago does not know this resource")
        return self.payments[payment_id]

    def search_payments_updated(self, since: datetime, until: datetime, *, limit: int,
                                offset: int = 0) -> tuple[list[PaymentSnapshot], int]:
        return self.search_payments(updated_filters(since, until, limit, offset))

    def search_order_payments(self, external_reference: str, created_since: datetime,
                              until: datetime, limit: int = 10) -> list[PaymentSnapshot]:
        return self.search_payments(order_filters(external_reference, created_since, until,
                                                  limit))[0]

    def search_payments(self, filters: dict[str, Any]) -> tuple[list[PaymentSnapshot], int]:
        """Mercado Pago's search over the fake's payments, from the adapter's own filters."""
        self._check("search_payments")
        found = list(self.payments.values())
        if "external_reference" in filters:
            found = [p for p in found if p.external_reference == filters["external_reference"]]
        if "status" in filters:
            found = [p for p in found if p.status == filters["status"]]
        field = str(filters.get("range") or "")
        if field in ("date_created", "date_last_updated"):
            begin = _when(filters.get("begin_date"))
            end = _when(filters.get("end_date"))
            found = [p for p in found
                     if _within(_when(getattr(p, field)) or self._now, begin, end)]
        sort = str(filters.get("sort") or "date_created")
        found.sort(key=lambda p: (_when(getattr(p, sort, "")) or self._now, int(p.id)),
                   reverse=filters.get("criteria") == "desc")
        offset, limit = int(filters.get("offset") or 0), int(filters.get("limit") or 30)
        return found[offset:offset + limit], len(found)

    def get_merchant_order(self, merchant_order_id: str) -> MerchantOrderSnapshot:
        self._check("get_merchant_order")
        if merchant_order_id not in self.merchant_orders:
            raise ResourceNotFound("Mercado Pago does not know this resource")
        return self.merchant_orders[merchant_order_id]

    def get_chargeback(self, chargeback_id: str) -> ChargebackSnapshot:
        self._check("get_chargeback")
        if chargeback_id not in self.chargebacks:
            raise ResourceNotFound("Mercado Pago does not know this resource")
        return self.chargebacks[chargeback_id]

    def create_preference(self, request: PreferenceRequest) -> PreferenceCreated:
        self._check("create_preference")

        def make() -> PreferenceCreated:
            self.preferences.append(request)
            pref = f"pref-{next(self._ids)}"
            return PreferenceCreated(pref, f"https://checkout.example/{pref}",
                                     f"https://sandbox.checkout.example/{pref}")

        created: PreferenceCreated = self._once("preference", request.idempotency_key, make)
        return created

    def refund(self, payment_id: str, amount: Any | None, idempotency_key: str,
               *, render_in_process: bool = False) -> RefundResult:
        self.refund_calls.append((payment_id, amount, idempotency_key, render_in_process))
        self._check("refund")

        def make() -> RefundResult:
            snap = self.get_payment(payment_id)
            if snap.status != "approved":
                raise _rejected("Invalid action: payment status does not allow refund", 2063)
            remaining = snap.amount - snap.refunded_amount
            value = remaining if amount is None else quantize(Decimal(amount))
            if value <= 0 or value > remaining:
                raise _rejected("amount invalid", 4040)
            if self.hold_refunds:
                if not render_in_process:
                    raise ProviderRejected(400, {"message": "The refund is in process",
                                                 "cause": []})
                return RefundResult(str(next(self._ids)), value, "in_process")
            refund = RefundResult(str(next(self._ids)), value, "approved")
            self.refunds.setdefault(payment_id, []).append(refund)
            refunded = snap.refunded_amount + value
            if refunded >= snap.amount:
                self.set_status(payment_id, "refunded", "refunded", refunded_amount=refunded)
            else:
                self.set_status(payment_id, "approved", "partially_refunded",
                                refunded_amount=refunded)
            return refund

        result: RefundResult = self._once("refund", idempotency_key, make)
        return result

    def cancel(self, payment_id: str, idempotency_key: str) -> PaymentSnapshot:
        self._check("cancel")

        def make() -> PaymentSnapshot:
            snap = self.get_payment(payment_id)
            if snap.status not in CANCELLABLE:
                raise _rejected("Invalid action: payment can not be cancelled", 2063)
            return self.set_status(payment_id, "cancelled", "by_collector")

        snap: PaymentSnapshot = self._once("cancel", idempotency_key, make)
        return self.payments[snap.id]


def _within(moment: datetime, begin: datetime | None, end: datetime | None) -> bool:
    return (begin is None or begin <= moment) and (end is None or moment <= end)


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
