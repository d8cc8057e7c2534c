"""Calls to Mercado Pago through the official SDK. The only module that imports it."""

from __future__ import annotations

import threading
import warnings
from datetime import datetime
from typing import TYPE_CHECKING, Any

import mercadopago
from mercadopago.config import RequestOptions

from shared.adapters.mercadopago.conventions import mp_datetime
from shared.adapters.mercadopago.errors import (
    ProviderAuthFailed,
    ProviderRejected,
    ProviderUnavailable,
    ResourceNotFound,
)
from shared.adapters.mercadopago.http import PooledHttpClient
from shared.adapters.mercadopago.models import (
    CardTokenSnapshot,
    ChargebackSnapshot,
    MerchantOrderSnapshot,
    PaymentSnapshot,
)

if TYPE_CHECKING:
    from shared.adapters.mercadopago.requests import (
        PaymentRequest,
        PreferenceCreated,
        PreferenceRequest,
        RefundResult,
    )
from shared.domain.money import to_decimal, to_json_number

# notification_url on a payment is how this backend routes Webhooks per payment; the SDK
# warns about it on every call. The warning is not news to us.
warnings.filterwarnings("ignore", message="notification_url is deprecated", category=DeprecationWarning)


def updated_filters(since: datetime, until: datetime, limit: int,
                    offset: int = 0) -> dict[str, Any]:
    """``/v1/payments/search`` filters: updated in ``[since, until]``, oldest update first."""
    return {"range": "date_last_updated", "begin_date": mp_datetime(since),
            "end_date": mp_datetime(until), "sort": "date_last_updated", "criteria": "asc",
            "limit": limit, "offset": offset}


def order_filters(external_reference: str, created_since: datetime, until: datetime,
                  limit: int) -> dict[str, Any]:
    """``/v1/payments/search`` filters: one order's payments created in ``[created_since,
    until]``, latest update first."""
    return {"external_reference": external_reference, "range": "date_created",
            "begin_date": mp_datetime(created_since), "end_date": mp_datetime(until),
            "sort": "date_last_updated", "criteria": "desc", "limit": limit}


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


def _approval_inputs(request: PaymentRequest) -> dict[str, Any]:
    """What Mercado Pago's fraud scoring uses to approve more payments (its "approval
    guidance"): the items, who pays, from where, and what the card statement will show."""
    out: dict[str, Any] = {}
    info: dict[str, Any] = {}
    if request.additional_items:
        info["items"] = [{**item, "unit_price": to_json_number(item["unit_price"])}
                         for item in request.additional_items]
    payer: dict[str, Any] = {}
    if request.payer.first_name:
        payer["first_name"] = request.payer.first_name
    if request.payer.last_name:
        payer["last_name"] = request.payer.last_name
    if request.payer.phone:
        payer["phone"] = dict(request.payer.phone)
    if request.payer.address:
        payer["address"] = {k: request.payer.address[k]
                            for k in ("zip_code", "street_name", "street_number")
                            if k in request.payer.address}
    if payer:
        info["payer"] = payer
    if request.ip_address:
        info["ip_address"] = request.ip_address
    if info:
        out["additional_info"] = info
    if request.statement_descriptor:
        out["statement_descriptor"] = request.statement_descriptor
    if request.binary_mode is not None:
        out["binary_mode"] = request.binary_mode
    return out


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

    def _options(self, idempotency_key: str | None = None,
                 extra_headers: dict[str, str] | None = None) -> RequestOptions:
        headers = {"x-idempotency-key": idempotency_key} if idempotency_key else {}
        headers.update(extra_headers or {})
        return RequestOptions(
            access_token=self._token,
            connection_timeout=float(self._timeout),
            custom_headers=headers or None,
            max_retries=0,
        )

    def create_payment(self, request: PaymentRequest) -> PaymentSnapshot:
        payer: dict[str, Any] = {"email": request.payer.email}
        if request.payer.first_name:
            payer["first_name"] = request.payer.first_name
        if request.payer.last_name:
            payer["last_name"] = request.payer.last_name
        if request.payer.identification_type and request.payer.identification_number:
            payer["identification"] = {"type": request.payer.identification_type,
                                       "number": request.payer.identification_number}
        if request.payer.address:
            payer["address"] = dict(request.payer.address)
        body: dict[str, Any] = {
            "transaction_amount": to_json_number(request.amount),
            "description": request.description,
            "payment_method_id": request.payment_method_id,
            "payer": payer,
            "external_reference": request.external_reference,
            "notification_url": request.notification_url,
            "metadata": {"order_id": request.external_reference},
        }
        optional = {"token": request.token, "installments": request.installments,
                    "issuer_id": request.issuer_id,
                    "date_of_expiration": request.date_of_expiration,
                    "three_d_secure_mode": request.three_d_secure_mode}
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(_approval_inputs(request))
        device = ({"X-meli-session-id": request.device_session_id}
                  if request.device_session_id else None)
        response = self._sdk.payment().create(body, self._options(request.idempotency_key, device))
        return PaymentSnapshot.from_api(_check(response))

    def get_card_token(self, token_id: str) -> CardTokenSnapshot:
        """``GET /v1/card_tokens/{id}`` with the access token: the card behind a token, read
        before charging it (the per-card limit). Reading does not use the token up."""
        response = self._sdk.card_token().get(token_id, self._options())
        return CardTokenSnapshot.from_api(_check(response, not_found_ok=True))

    def get_payment(self, payment_id: str) -> PaymentSnapshot:
        response = self._sdk.payment().get(payment_id, self._options())
        return PaymentSnapshot.from_api(_check(response, not_found_ok=True))

    def search_payments_updated(self, since: datetime, until: datetime, *, limit: int,
                                offset: int = 0) -> tuple[list[PaymentSnapshot], int]:
        """Payments last updated in ``[since, until]``, oldest update first: one page and the
        total count."""
        return self._search(updated_filters(since, until, limit, offset))

    def search_order_payments(self, external_reference: str, created_since: datetime,
                              until: datetime, limit: int = 10) -> list[PaymentSnapshot]:
        """An order's payments (by ``external_reference``) created in ``[created_since,
        until]``, latest update first."""
        return self._search(order_filters(external_reference, created_since, until, limit))[0]

    def _search(self, filters: dict[str, Any]) -> tuple[list[PaymentSnapshot], int]:
        """``GET /v1/payments/search``: one page of results and the total count."""
        response = self._sdk.payment().search(filters, self._options())
        body = _check(response)
        results = body.get("results") or [] if isinstance(body, dict) else []
        paging = body.get("paging") or {} if isinstance(body, dict) else {}
        return [PaymentSnapshot.from_api(r) for r in results], int(paging.get("total") or 0)

    def get_merchant_order(self, merchant_order_id: str) -> MerchantOrderSnapshot:
        response = self._sdk.merchant_order().get(merchant_order_id, self._options())
        return MerchantOrderSnapshot.from_api(_check(response, not_found_ok=True))

    def get_chargeback(self, chargeback_id: str) -> ChargebackSnapshot:
        response = self._sdk.chargeback().get(chargeback_id, self._options())
        return ChargebackSnapshot.from_api(_check(response, not_found_ok=True))

    def create_preference(self, request: PreferenceRequest) -> PreferenceCreated:
        from shared.adapters.mercadopago.requests import PreferenceCreated

        body: dict[str, Any] = {
            "items": [{**item, "unit_price": to_json_number(item["unit_price"])}
                      for item in request.items],
            "external_reference": request.external_reference,
            "notification_url": request.notification_url,
            "expires": True,
            "expiration_date_to": request.expires_at,
            "date_of_expiration": request.expires_at,
            "metadata": {"order_id": request.external_reference},
        }
        if request.back_urls:
            body["back_urls"] = dict(request.back_urls)
            if request.back_urls.get("success"):
                body["auto_return"] = "approved"
        if request.payer_email:
            body["payer"] = {"email": request.payer_email}
        response = self._sdk.preference().create(body, self._options(request.idempotency_key))
        created = _check(response)
        if not isinstance(created, dict) or not created.get("id"):
            raise ProviderUnavailable("preference answer lacks an id")
        return PreferenceCreated(str(created["id"]), str(created.get("init_point") or ""),
                                 str(created.get("sandbox_init_point") or ""))

    def refund(self, payment_id: str, amount: Any | None, idempotency_key: str,
               *, render_in_process: bool = False) -> RefundResult:
        """Full refund when ``amount`` is None, else a partial one (a Decimal).

        ``render_in_process`` (PIX): ask Mercado Pago to answer a refund held in contingency
        as 201 ``in_process`` instead of a 400 (``X-Render-In-Process-Refunds: true``).
        """
        from shared.adapters.mercadopago.requests import RefundResult

        body = {} if amount is None else {"amount": to_json_number(amount)}
        extra = {"X-Render-In-Process-Refunds": "true"} if render_in_process else None
        response = self._sdk.refund().create(payment_id, body,
                                             self._options(idempotency_key, extra))
        created = _check(response, not_found_ok=True)
        return RefundResult(str(created.get("id")), to_decimal(created.get("amount") or 0),
                            str(created.get("status") or ""))

    def cancel(self, payment_id: str, idempotency_key: str) -> PaymentSnapshot:
        response = self._sdk.payment().update(payment_id, {"status": "cancelled"},
                                              self._options(idempotency_key))
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


def reset() -> None:
    """Forget the gateways and their pools (``shared.wiring.reset``)."""
    with _lock:
        _gateways.clear()
        _http.clear()
