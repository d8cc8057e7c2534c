"""What the product sends to Mercado Pago, and what those calls answer.

Apart from :mod:`shared.adapters.mercadopago.models` (the read side) so that fulfill, which only
reads, does not pay for these classes at start-up.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from shared.domain.records import record


@record(frozen=True)
class PayerInfo:
    """Payer data passed through to Mercado Pago; never stored, never logged."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    identification_type: str | None = None
    identification_number: str | None = None
    address: dict[str, str] | None = None
    phone: dict[str, str] | None = None


@record(frozen=True)
class PaymentRequest:
    """A payment to create, for any method. ``token`` is a card token, never card data."""

    amount: Decimal
    description: str
    payment_method_id: str
    payer: PayerInfo
    external_reference: str
    notification_url: str
    idempotency_key: str
    token: str | None = None
    installments: int | None = None
    issuer_id: str | None = None
    date_of_expiration: str | None = None
    three_d_secure_mode: str | None = None
    # Mercado Pago's approval-rate inputs (additional_info, descriptor, device fingerprint)
    additional_items: tuple[dict[str, Any], ...] = ()
    ip_address: str | None = None
    statement_descriptor: str | None = None
    binary_mode: bool | None = None
    device_session_id: str | None = None


@record(frozen=True)
class PreferenceRequest:
    items: list[dict[str, Any]]
    external_reference: str
    notification_url: str
    back_urls: dict[str, str]
    expires_at: str
    idempotency_key: str
    payer_email: str | None = None


@record(frozen=True)
class PreferenceCreated:
    id: str
    init_point: str
    sandbox_init_point: str


@record(frozen=True)
class RefundResult:
    id: str
    amount: Decimal
    status: str
