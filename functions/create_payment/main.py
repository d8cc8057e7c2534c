"""create_payment: the HTTPS endpoint shop frontends call.

``POST /`` creates an order priced from the catalog and charges it; ``GET /orders/<id>``
answers the order's public state; ``GET /products/<id>`` a product's public price (what the
card form shows for installments; the charge is still priced here); ``GET /health`` is for
uptime checks. CORS for configured origins only.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

import flask

from shared.adapters.store.catalog import Catalog
from shared.adapters.store.idempotency import IdempotencyStore, payload_hash
from shared.adapters.store.limits import LimitStore
from shared.adapters.store.orders import OrderRepository
from shared.domain.errors import DomainError
from shared.platform import log
from shared.platform.config import settings
from shared.platform.http_context import as_api_error, handle
from shared.platform.schemas import SchemaError, is_reserved_id, parse_request, raw_card_fields
from shared.platform.web import (
    ApiError,
    client_ip,
    cors_headers,
    json_response,
    method_not_allowed,
    parse_json_object,
    read_body,
)
from shared.usecases.attempt_limits import AttemptGuard, card_reader
from shared.usecases.checkout import BuyerContext, Checkout
from shared.wiring import firestore_db, mp_gateway

_ORDER_PATH = re.compile(r"/orders/([A-Za-z0-9_\-]{1,64})/?")  # fullmatch: whole path
_PRODUCT_PATH = re.compile(r"/products/([A-Za-z0-9_.\-]{1,128})/?")  # fullmatch
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # fullmatch
# MP_DEVICE_SESSION_ID as security.js sets it; anything else is not forwarded.
_DEVICE_SESSION = re.compile(r"[A-Za-z0-9.:_\-]{1,128}")  # fullmatch


@lru_cache(maxsize=1)
def _checkout() -> Checkout:
    from datetime import UTC, datetime

    from shared.platform.secrets import reader

    s = settings()
    db = firestore_db()

    def now() -> datetime:
        return datetime.now(UTC)

    guard = AttemptGuard(s, LimitStore(db), lambda: reader().get(s.rate_limit_key),
                         card_reader(mp_gateway), now)
    bot_check = None
    if s.recaptcha_site_key:
        from shared.adapters.botcheck import BotCheck, recaptcha_assessor

        bot_check = BotCheck(s, recaptcha_assessor(s)).verify
    return Checkout(s, OrderRepository(db), IdempotencyStore(db, s.idempotency_ttl_seconds),
                    Catalog(db), mp_gateway, now, guard, bot_check)


def _create(request: flask.Request) -> flask.Response:
    s = settings()
    raw = read_body(request, s.max_body_bytes)
    payload = parse_json_object(request, raw)
    card_fields = raw_card_fields(payload)
    if card_fields:
        # The body is dropped unread and unlogged: it holds card data.
        log.warning("raw_card_data_rejected", "request carried raw card fields",
                    field_count=len(card_fields))
        raise ApiError(400, "raw_card_data_forbidden",
                       "send a Mercado Pago card token, never card data",
                       [{"path": p, "message": "raw card data is forbidden"} for p in card_fields])
    try:
        parsed = parse_request(payload)
    except SchemaError as exc:
        raise ApiError(400, "invalid_request", "the request does not match the schema",
                       [{"path": exc.path, "message": exc.message}]) from exc
    key = request.headers.get("Idempotency-Key")
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(400, "invalid_idempotency_key", "Idempotency-Key must be 1-255 "
                       "printable characters")
    session = request.headers.get("X-Meli-Session-Id", "").strip()
    buyer = BuyerContext(ip_address=client_ip(request, s.client_ip_trusted_hops),
                         device_session_id=session if _DEVICE_SESSION.fullmatch(session) else None)
    result = _checkout().create(parsed, key, payload_hash(payload), buyer,
                                request.headers.get("X-Recaptcha-Token"))
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    return json_response(result.body, result.status, headers)


def _route(request: flask.Request) -> flask.Response:
    cors = cors_headers(request, settings().cors_allowed_origins)
    if request.method == "OPTIONS":
        if not cors:
            raise ApiError(403, "origin_not_allowed", "this origin may not call the API")
        return flask.Response(status=204, headers=cors)
    try:
        response = _dispatch(request)
    except DomainError as exc:
        error = as_api_error(exc)
        error.headers.update(cors)
        raise error from exc
    except ApiError as exc:
        exc.headers.update(cors)
        raise
    response.headers.update(cors)
    return response


def _dispatch(request: flask.Request) -> flask.Response:
    path = request.path
    if path == "/health":
        return health(request)
    product = _PRODUCT_PATH.fullmatch(path)
    if product and not is_reserved_id(product.group(1)):
        if request.method not in ("GET", "HEAD"):
            raise method_not_allowed(["GET", "OPTIONS"])
        return json_response(_product_view(product.group(1)),
                             headers={"Cache-Control": "public, max-age=60"})
    if path.startswith("/products/"):
        raise ApiError(404, "product_not_found", "no such product")
    order = _ORDER_PATH.fullmatch(path)
    if order and not is_reserved_id(order.group(1)):
        if request.method not in ("GET", "HEAD"):
            raise method_not_allowed(["GET", "OPTIONS"])
        log.bind(order_id=order.group(1))
        return json_response(_checkout().order_view(order.group(1)))
    if path in ("/", ""):
        if request.method != "POST":
            raise method_not_allowed(["POST", "OPTIONS"])
        return _create(request)
    if path.startswith("/orders/"):
        raise ApiError(404, "order_not_found", "no such order")
    raise ApiError(404, "not_found", "no such endpoint")


def _product_view(product_id: str) -> dict[str, object]:
    from shared.adapters.store.catalog import load_products
    from shared.adapters.store.client import UNAVAILABLE
    from shared.domain.money import format_amount

    if is_reserved_id(product_id):
        raise ApiError(404, "product_not_found", "no such product")
    try:
        found = load_products(firestore_db(), [product_id]).get(product_id)
    except UNAVAILABLE as exc:
        raise ApiError(503, "storage_unavailable", "the catalog is not answering; retry",
                       headers={"Retry-After": "2"}, extra={"retryable": True}) from exc
    if found is None or not found.active:
        raise ApiError(404, "product_not_found", "no such product")
    return {"id": found.id, "title": found.title, "unit_price": format_amount(found.unit_price),
            "currency": found.currency, "active": found.active}


def health(request: flask.Request) -> flask.Response:
    """``GET /health``: the instance serves; ``revision`` is Cloud Run's ``K_REVISION``.

    Not ``/healthz``: Cloud Run reserves paths ending in ``z``."""
    if request.method not in ("GET", "HEAD"):
        raise method_not_allowed(["GET"])
    return json_response({"status": "ok", "revision": os.environ.get("K_REVISION", "local")})


def create_payment(request: flask.Request) -> flask.Response:
    return handle("create_payment", request, _route)

