"""Calls to Mercado Pago through the official SDK. The only module that imports it."""

from __future__ import annotations

import threading
import warnings
from typing import Any

import mercadopago
from mercadopago.config import RequestOptions

from shared.mercadopago.errors import (
    ProviderAuthFailed,
    ProviderRejected,
    ProviderUnavailable,
    ResourceNotFound,
)
from shared.mercadopago.http import PooledHttpClient
from shared.mercadopago.models import CardPaymentRequest, PaymentSnapshot
from shared.money import to_json_number

# notification_url on a payment is how this backend routes Webhooks per payment; the SDK
# warns about it on every call. The warning is not news to us.
warnings.filterwarnings("ignore", message="notification_url is deprecated", category=DeprecationWarning)


def _check(response: Any, *, not_found_ok: bool = False) -> Any:
    status = int(response.get("status") or 0)
    body = response.get("response")
    if 200 <= status < 300:
        return body
    if status == 404 and not_found_ok:
        raise ResourceNotFound("Mercado Pago does not know this resource")
    if status in (401, 403):
        raise ProviderAuthFailed(status, body)
    if status == 429 or status >= 500 or status == 0:
        raise ProviderUnavailable(f"Mercado Pago answered {status}", status=status)
    raise ProviderRejected(status, body)


class MercadoPagoGateway:
    """One instance per access token; it reuses a pooled HTTP client."""

    def __init__(self, access_token: str, http_client: PooledHttpClient, timeout: float) -> None:
        self._timeout = timeout
        self._sdk = mercadopago.SDK(
            access_token,
            http_client=http_client,
            request_options=RequestOptions(connection_timeout=float(timeout), max_retries=0),
        )
        self._token = access_token

    def _options(self, idempotency_key: str | None = None) -> RequestOptions:
        headers = {"x-idempotency-key": idempotency_key} if idempotency_key else None
        return RequestOptions(
            access_token=self._token,
            connection_timeout=float(self._timeout),
            custom_headers=headers,
            max_retries=0,
        )

    def create_card_payment(self, request: CardPaymentRequest) -> PaymentSnapshot:
        body: dict[str, Any] = {
            "transaction_amount": to_json_number(request.amount),
            "token": request.token,
            "description": request.description,
            "installments": request.installments,
            "payment_method_id": request.payment_method_id,
            "payer": {"email": request.payer_email},
            "external_reference": request.external_reference,
            "notification_url": request.notification_url,
            "metadata": {"order_id": request.external_reference},
        }
        if request.issuer_id:
            body["issuer_id"] = request.issuer_id
        if request.payer_identification_type and request.payer_identification_number:
            body["payer"]["identification"] = {
                "type": request.payer_identification_type,
                "number": request.payer_identification_number,
            }
        response = self._sdk.payment().create(body, self._options(request.idempotency_key))
        return PaymentSnapshot.from_api(_check(response))

    def get_payment(self, payment_id: str) -> PaymentSnapshot:
        response = self._sdk.payment().get(payment_id, self._options())
        return PaymentSnapshot.from_api(_check(response, not_found_ok=True))


_lock = threading.Lock()
_http: dict[tuple[str, float], PooledHttpClient] = {}
_gateways: dict[tuple[str, str, float], MercadoPagoGateway] = {}


def gateway(access_token: str, base_url: str, timeout: float) -> MercadoPagoGateway:
    """The instance's gateway for this token (a rotated token gets a new one; the pool stays)."""
    with _lock:
        http = _http.get((base_url, timeout))
        if http is None:
            http = _http[(base_url, timeout)] = PooledHttpClient(base_url, timeout)
        key = (access_token, base_url, timeout)
        found = _gateways.get(key)
        if found is None:
            if len(_gateways) > 4:  # old tokens after rotations
                _gateways.clear()
            found = _gateways[key] = MercadoPagoGateway(access_token, http, timeout)
        return found
