"""What the product reads from Mercado Pago, as plain typed values (no payer data).

What it sends (payment and preference requests) is in :mod:`shared.adapters.mercadopago.requests`,
which only the paths that write to Mercado Pago import.
"""

from __future__ import annotations

from dataclasses import field
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.adapters.mercadopago.errors import MalformedResource
from shared.domain.money import to_decimal
from shared.domain.records import record


@record(frozen=True)
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
    # What the buyer needs to finish paying (QR code, ticket URL, 3-D Secure challenge...).
    instructions: dict[str, str] = field(default_factory=dict, compare=False)

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
            instructions=_instructions(body),
        )


def _instructions(body: dict[str, Any]) -> dict[str, str]:
    """The buyer-facing data of an offline or challenged payment, flattened."""
    out: dict[str, str] = {}
    _point_of_interaction(body, out)
    _transaction_details(body, out)
    method = body.get("payment_method") or {}
    method_data = method.get("data") if isinstance(method, dict) else None
    if isinstance(method_data, dict) and method_data.get("reference_id"):
        out["transfer_reference"] = str(method_data["reference_id"])  # SPEI
    barcode = body.get("barcode") or {}
    if isinstance(barcode, dict) and barcode.get("content"):
        out["barcode"] = str(barcode["content"])
    _three_ds(body, out)
    if body.get("date_of_expiration"):
        out["expires_at"] = str(body["date_of_expiration"])
    return out


def _point_of_interaction(body: dict[str, Any], out: dict[str, str]) -> None:
    """PIX's QR code and ticket, a bank transfer's bank data."""
    poi = body.get("point_of_interaction") or {}
    data = poi.get("transaction_data") or {} if isinstance(poi, dict) else {}
    if not isinstance(data, dict):
        return
    for key in ("qr_code", "qr_code_base64", "ticket_url"):
        if data.get(key):
            out[key] = str(data[key])
    bank = data.get("bank_info") or {}
    if isinstance(bank, dict):
        for key, value in bank.items():
            if isinstance(value, str | int) and value:
                out[f"bank_{key}"] = str(value)


def _transaction_details(body: dict[str, Any], out: dict[str, str]) -> None:
    """A ticket's URL (unless the point of interaction gave one) and its institution."""
    details = body.get("transaction_details") or {}
    if not isinstance(details, dict):
        return
    if details.get("external_resource_url"):
        out.setdefault("ticket_url", str(details["external_resource_url"]))
    if details.get("financial_institution"):
        out["financial_institution"] = str(details["financial_institution"])


def _three_ds(body: dict[str, Any], out: dict[str, str]) -> None:
    """A card payment's 3-D Secure challenge."""
    three_ds = body.get("three_ds_info") or {}
    if isinstance(three_ds, dict) and three_ds.get("external_resource_url"):
        out["challenge_url"] = str(three_ds["external_resource_url"])
        if three_ds.get("creq"):
            out["creq"] = str(three_ds["creq"])


@record(frozen=True)
class MerchantOrderSnapshot:
    id: str
    external_reference: str
    order_status: str
    payment_ids: tuple[str, ...]

    @classmethod
    def from_api(cls, body: Any) -> MerchantOrderSnapshot:
        if not isinstance(body, dict) or "id" not in body:
            raise MalformedResource("merchant order body lacks id")
        payments = body.get("payments") or []
        return cls(
            id=str(body["id"]),
            external_reference=str(body.get("external_reference") or ""),
            order_status=str(body.get("order_status") or body.get("status") or ""),
            payment_ids=tuple(str(p["id"]) for p in payments if isinstance(p, dict) and p.get("id")),
        )


@record(frozen=True)
class ChargebackSnapshot:
    id: str
    payment_ids: tuple[str, ...]

    @classmethod
    def from_api(cls, body: Any) -> ChargebackSnapshot:
        if not isinstance(body, dict) or "id" not in body:
            raise MalformedResource("chargeback body lacks id")
        payments = body.get("payments") or []
        ids = [str(p.get("id") if isinstance(p, dict) else p) for p in payments]
        return cls(id=str(body["id"]), payment_ids=tuple(i for i in ids if i and i != "None"))


@record(frozen=True)
class CardTokenSnapshot:
    """What ``GET /v1/card_tokens/{id}`` tells about a token's card: enough to recognise the
    card (first six, last four, expiry), never the number."""

    first_six: str
    last_four: str
    expiration_month: int
    expiration_year: int

    @classmethod
    def from_api(cls, data: Any) -> CardTokenSnapshot:
        try:
            return cls(str(data["first_six_digits"]), str(data["last_four_digits"]),
                       int(data["expiration_month"]), int(data["expiration_year"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResource("card token without its card's digits or expiry") from exc
