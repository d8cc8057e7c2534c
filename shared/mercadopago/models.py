"""What the product reads from Mercado Pago, as plain typed values (no payer data)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.mercadopago.errors import MalformedResource
from shared.money import to_decimal


@dataclass(frozen=True)
class PaymentSnapshot:
    """The canonical state of one payment, as fetched from Mercado Pago."""

    id: str
    status: str
    status_detail: str
    amount: Decimal
    currency: str
    external_reference: str
    date_created: str
    date_last_updated: str
    payment_method_id: str = ""
    payment_type_id: str = ""
    live_mode: bool = False
    refunded_amount: Decimal = Decimal("0")

    @classmethod
    def from_api(cls, body: Any) -> PaymentSnapshot:
        if not isinstance(body, dict) or "id" not in body or "status" not in body:
            raise MalformedResource("payment body lacks id or status")
        try:
            amount = to_decimal(body.get("transaction_amount"))
            refunded = to_decimal(body.get("transaction_amount_refunded") or 0)
        except (InvalidOperation, TypeError, ValueError) as exc:
            raise MalformedResource("payment amount is not a number") from exc
        return cls(
            id=str(body["id"]),
            status=str(body["status"]),
            status_detail=str(body.get("status_detail") or ""),
            amount=amount,
            currency=str(body.get("currency_id") or ""),
            external_reference=str(body.get("external_reference") or ""),
            date_created=str(body.get("date_created") or ""),
            date_last_updated=str(body.get("date_last_updated") or body.get("date_created") or ""),
            payment_method_id=str(body.get("payment_method_id") or ""),
            payment_type_id=str(body.get("payment_type_id") or ""),
            live_mode=bool(body.get("live_mode", False)),
            refunded_amount=refunded,
        )


@dataclass(frozen=True)
class CardPaymentRequest:
    """A card payment to create. ``token`` is a Mercado Pago card token, never card data."""

    amount: Decimal
    description: str
    token: str
    payment_method_id: str
    installments: int
    issuer_id: str | None
    payer_email: str
    payer_identification_type: str | None
    payer_identification_number: str | None
    external_reference: str
    notification_url: str
    idempotency_key: str
