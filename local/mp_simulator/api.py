"""The Mercado Pago API routes (``/v1/...``), as the official SDK calls them."""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import cards
from .errors import bad_request, not_found
from .web import answer, base_url, json_body, sim

bp = Blueprint("mp_api", __name__)


@bp.post("/v1/card_tokens")
def create_card_token() -> tuple[Response, int]:
    body = json_body()
    if not isinstance(body, dict):
        raise bad_request("Invalid card data", "invalid_json")
    s = sim()
    return answer(cards.create_token(s.store, body, s.config.public_key, s.config.token_ttl), 201)


@bp.get("/v1/card_tokens/<token_id>")
def get_card_token(token_id: str) -> tuple[Response, int]:
    doc = sim().store.card_tokens.get(token_id)
    if doc is None:
        raise not_found("Card Token not found", 2006)
    return answer(doc)


@bp.post("/v1/payments")
def create_payment() -> tuple[Response, int]:
    key = request.headers.get("X-Idempotency-Key")
    doc, _created = sim().payments.create(json_body(), key, base_url())
    return answer(doc, 201)


@bp.get("/v1/payments/search")
def search_payments() -> tuple[Response, int]:
    return answer(sim().payments.search(request.args.to_dict()))


@bp.get("/v1/payments/<payment_id>")
def get_payment(payment_id: str) -> tuple[Response, int]:
    return answer(sim().payments.get(payment_id))


@bp.put("/v1/payments/<payment_id>")
def update_payment(payment_id: str) -> tuple[Response, int]:
    """Cancel (``{"status": "cancelled"}``) or capture (``{"capture": true}``)."""
    s = sim()
    doc = s.payments.get(payment_id)
    body = json_body()
    if not isinstance(body, dict):
        raise bad_request("Invalid request body", 4000)
    if body.get("status") == "cancelled":
        if doc["status"] not in ("pending", "in_process", "authorized"):
            raise bad_request(
                "The action requested is not valid for the current payment state", 2063
            )
        changed = s.payments.change_status(doc["id"], "cancelled", "by_collector")
    elif body.get("capture") is True:
        if doc["status"] != "authorized":
            raise bad_request("Payment is not authorized", 2063)
        changed = s.payments.change_status(doc["id"], "approved", "accredited")
    else:
        raise bad_request("Only status=cancelled or capture=true are simulated", 4000)
    return answer(changed)


@bp.post("/v1/payments/<payment_id>/refunds")
def create_refund(payment_id: str) -> tuple[Response, int]:
    """``{}`` refunds what remains; ``{"amount": n}`` a part. One refund per idempotency key."""
    key = request.headers.get("X-Idempotency-Key")
    render = request.headers.get("X-Render-In-Process-Refunds", "").lower() == "true"
    refund, _created = sim().refunds.create(payment_id, json_body(default={}), key, render)
    return answer(refund, 201)


@bp.get("/v1/payments/<payment_id>/refunds")
def list_refunds(payment_id: str) -> tuple[Response, int]:
    return answer(sim().refunds.list(payment_id))


@bp.get("/v1/payments/<payment_id>/refunds/<refund_id>")
def get_refund(payment_id: str, refund_id: str) -> tuple[Response, int]:
    return answer(sim().refunds.get(payment_id, refund_id))


@bp.get("/v1/chargebacks/search")
def search_chargebacks() -> tuple[Response, int]:
    return answer(sim().chargebacks.search(request.args.to_dict()))


@bp.get("/v1/chargebacks/<chargeback_id>")
def get_chargeback(chargeback_id: str) -> tuple[Response, int]:
    return answer(sim().chargebacks.get(chargeback_id))


@bp.post("/checkout/preferences")
def create_preference() -> tuple[Response, int]:
    return answer(sim().checkout.create_preference(json_body(), base_url()), 201)


@bp.get("/checkout/preferences/<pref_id>")
def get_preference(pref_id: str) -> tuple[Response, int]:
    return answer(sim().checkout.get_preference(pref_id))


@bp.get("/merchant_orders/search")
def search_merchant_orders() -> tuple[Response, int]:
    return answer(sim().checkout.search_orders(request.args.to_dict()))


@bp.get("/merchant_orders/<order_id>")
def get_merchant_order(order_id: str) -> tuple[Response, int]:
    return answer(sim().checkout.get_order(order_id))
