"""Checkout Pro: preferences, paying one at the hosted page, and merchant orders.

Paying a preference creates a payment (through ``Payments.create``, which notifies
``payment.created``) linked by ``payment.order.id`` to a new merchant order, and notifies the
``topic_merchant_order_wh`` type (action ``create``). Every later ``change_status`` of that
payment re-computes the merchant order and notifies it again (action ``update``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from . import cards, clock
from .config import SimulatorConfig
from .errors import ApiError, bad_request, not_found
from .ids import IdSequence
from .notifications import Notifier
from .payments import Payments
from .store import Doc, Store

OUTCOMES = ("APRO", "OTHE", "CONT", "PIX")
SITES = {"BRL": "MLB", "MXN": "MLM", "ARS": "MLA", "CLP": "MLC", "COP": "MCO", "PEN": "MPE",
         "UYU": "MLU"}
TEST_CARD = "5031433215406351"  # Mastercard test card (the cardholder name picks the outcome)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in ("http", "https") and bool(
        urlsplit(value).netloc
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _date(body: dict[str, Any], key: str) -> str | None:
    raw = body.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise bad_request(f"{key} must be an ISO 8601 date", "invalid_" + key)
    try:
        return clock.iso(clock.parse_iso(raw))
    except ValueError:
        raise bad_request(f"invalid {key}: {raw}", "invalid_" + key) from None


def validate_items(items: Any, default_currency: str) -> tuple[list[Doc], str]:
    if not isinstance(items, list) or not items:
        raise ApiError(400, "items needed", [("invalid_items", "items must be a non-empty list")])
    normalized: list[Doc] = []
    currencies = set()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise bad_request(f"items[{n}] must be an object", "invalid_items")
        title = item.get("title")
        if not isinstance(title, str) or not title.strip():
            raise bad_request(f"items[{n}].title is required", "invalid_items")
        quantity = item.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise bad_request(f"items[{n}].quantity must be a positive integer", "invalid_items")
        price: Any = item.get("unit_price")
        if not _number(price) or price <= 0:
            raise bad_request(f"items[{n}].unit_price invalid", "invalid_items")
        currency = item.get("currency_id") or default_currency
        if not isinstance(currency, str):
            raise bad_request(f"items[{n}].currency_id invalid", "invalid_items")
        currencies.add(currency)
        normalized.append({
            "id": "" if item.get("id") is None else str(item["id"]),
            "category_id": item.get("category_id", ""),
            "currency_id": currency,
            "description": item.get("description", ""),
            "picture_url": item.get("picture_url"),
            "title": title,
            "quantity": quantity,
            "unit_price": float(price),
        })
    if len(currencies) > 1:
        raise bad_request("all items must have the same currency_id", "invalid_items")
    return normalized, currencies.pop()


def total_of(items: list[Doc]) -> float:
    return round(sum(float(i["unit_price"]) * int(i["quantity"]) for i in items), 2)


class Checkout:
    def __init__(
        self, config: SimulatorConfig, store: Store, payments: Payments, notifier: Notifier
    ) -> None:
        self._config = config
        self._versions: dict[int, int] = {}  # per merchant order: the webhook body's version
        self._store = store
        self._payments = payments
        self._notifier = notifier
        self._order_ids = IdSequence(20_000_000_000, 30_000_000_000)
        payments.listeners.append(self._payment_changed)

    # --- preferences -----------------------------------------------------------------------
    def create_preference(self, body: Any, base_url: str) -> Doc:
        if not isinstance(body, dict):
            raise bad_request("Invalid request body", 4000)
        items, currency = validate_items(body.get("items"), self._config.currency)
        back_urls = body.get("back_urls") or {}
        if not isinstance(back_urls, dict) or any(
            v not in (None, "") and not _is_url(v) for v in back_urls.values()
        ):
            raise bad_request("back_urls must be valid urls", "invalid_back_urls")
        auto_return = body.get("auto_return") or ""
        if auto_return not in ("", "approved", "all"):
            raise bad_request("auto_return invalid", "invalid_auto_return")
        if auto_return and not back_urls.get("success"):
            raise bad_request("auto_return invalid. back_url.success must be defined",
                              "invalid_auto_return")
        url = body.get("notification_url")
        if url is not None and not _is_url(url):
            raise bad_request("notification_url attribute must be url valid", 4020)
        expires = body.get("expires", False)
        if not isinstance(expires, bool):
            raise bad_request("expires must be a boolean", "invalid_expires")
        if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
            raise bad_request("metadata must be an object", 4000)
        payer: dict[str, Any] = body["payer"] if isinstance(body.get("payer"), dict) else {}
        pref_id = f"{self._config.user_id}-{uuid.uuid4()}"
        moment = clock.now()
        doc: Doc = {
            "id": pref_id,
            "additional_info": body.get("additional_info", ""),
            "auto_return": auto_return,
            "back_urls": {k: back_urls.get(k, "") or "" for k in ("success", "failure",
                                                                  "pending")},
            "binary_mode": bool(body.get("binary_mode", False)),
            "client_id": str(self._config.user_id),
            "collector_id": self._config.user_id,
            "date_created": clock.iso(moment),
            "date_of_expiration": _date(body, "date_of_expiration"),
            "expiration_date_from": _date(body, "expiration_date_from"),
            "expiration_date_to": _date(body, "expiration_date_to"),
            "expires": expires,
            "external_reference": body.get("external_reference", "") or "",
            "init_point": f"{base_url}/checkout/v1/redirect?pref_id={pref_id}",
            "sandbox_init_point": f"{base_url}/sandbox/checkout/v1/redirect?pref_id={pref_id}",
            "items": items,
            "marketplace": "NONE",
            "marketplace_fee": 0,
            "metadata": body.get("metadata") or {},
            "notification_url": url,
            "operation_type": "regular_payment",
            "payer": {
                "email": payer.get("email", ""),
                "name": payer.get("name", ""),
                "surname": payer.get("surname", ""),
                "identification": payer.get("identification") or {},
            },
            "payment_methods": body.get("payment_methods") or {
                "excluded_payment_methods": [], "excluded_payment_types": [],
                "installments": None, "default_installments": None,
            },
            "site_id": SITES.get(currency, "MLB"),
            "statement_descriptor": body.get("statement_descriptor"),
            "total_amount": total_of(items),
            "currency_id": currency,
            "live_mode": False,
        }
        self._store.preferences.put(pref_id, doc)
        return doc

    def get_preference(self, pref_id: str) -> Doc:
        doc = self._store.preferences.get(pref_id)
        if doc is None:
            raise not_found("Preference not found", "not_found")
        return doc

    @staticmethod
    def refusal(pref: Doc, moment: datetime | None = None) -> str | None:
        """Why the preference cannot be paid now (None when it can)."""
        if not pref.get("expires"):
            return None
        moment = moment or clock.now()
        start, end = pref.get("expiration_date_from"), pref.get("expiration_date_to")
        if start and clock.parse_iso(start) > moment:
            return "This preference is not active yet"
        if end and clock.parse_iso(end) < moment:
            return "This preference has expired"
        return None

    # --- paying at the hosted page --------------------------------------------------------
    def pay(self, pref_id: str, outcome: str, base_url: str) -> dict[str, Any]:
        pref = self.get_preference(pref_id)
        if outcome not in OUTCOMES:
            raise bad_request("outcome must be one of " + ", ".join(OUTCOMES), "invalid_outcome")
        reason = self.refusal(pref)
        if reason is not None:
            raise ApiError(410, reason, [("preference_expired", reason)])
        order_id = self._order_ids.next()
        stamp = clock.iso(clock.now())
        order: Doc = {
            "id": order_id,
            "status": "opened",
            "external_reference": pref["external_reference"],
            "preference_id": pref_id,
            "payments": [],
            "shipments": [],
            "payouts": [],
            "collector": {"id": self._config.user_id, "email": "", "nickname": "TESTSIMULATOR"},
            "marketplace": "NONE",
            "notification_url": pref["notification_url"],
            "date_created": stamp,
            "last_updated": stamp,
            "sponsor_id": None,
            "shipping_cost": 0,
            "total_amount": pref["total_amount"],
            "site_id": pref["site_id"],
            "paid_amount": 0,
            "refunded_amount": 0,
            "payer": None,
            "items": [
                {k: i[k] for k in ("id", "category_id", "currency_id", "description",
                                   "picture_url", "title", "quantity", "unit_price")}
                for i in pref["items"]
            ],
            "cancelled": False,
            "additional_info": "",
            "application_id": None,
            "is_test": True,
            "order_status": "payment_required",
            "client_id": pref["client_id"],
        }
        self._store.merchant_orders.put(order_id, order)
        email = pref["payer"].get("email") or "test_user@testuser.com"
        body: Doc = {
            "transaction_amount": pref["total_amount"],
            "description": pref["items"][0]["title"],
            "installments": 1,
            "payer": {"email": email},
            "external_reference": pref["external_reference"] or None,
            "notification_url": pref["notification_url"],
            "metadata": pref["metadata"],
        }
        extra: Doc = {"order": {"id": str(order_id), "type": "mercadopago"}}
        if outcome == "PIX":
            if pref["currency_id"] != "BRL":
                raise bad_request("PIX needs a BRL preference", "invalid_payment_method")
            body["payment_method_id"] = "pix"
        else:
            token = cards.create_token(self._store, {
                "card_number": TEST_CARD,
                "expiration_month": 11,
                "expiration_year": clock.now().year + 3,
                "security_code": "123",
                "cardholder": {"name": outcome},
            }, self._config.public_key, 600.0)
            body.update(payment_method_id="master", token=token["id"], issuer_id="24")
            extra["currency_id"] = pref["currency_id"]
        payment, _ = self._payments.create(body, f"checkout-{uuid.uuid4()}", base_url, extra)
        order = self._sync(order_id, "create")
        return {
            "payment_id": payment["id"],
            "merchant_order_id": order_id,
            "status": payment["status"],
            "status_detail": payment["status_detail"],
            "redirect_url": self.redirect_url(pref, payment, order_id),
            "payment": payment,
            "merchant_order": order,
        }

    @staticmethod
    def back_url_kind(status: str) -> str:
        if status == "approved":
            return "success"
        if status in ("pending", "in_process", "authorized"):
            return "pending"
        return "failure"

    def redirect_url(self, pref: Doc, payment: Doc, order_id: int) -> str | None:
        target = pref["back_urls"].get(self.back_url_kind(payment["status"]))
        if not target:
            return None
        query = urlencode({
            "collection_id": payment["id"],
            "collection_status": payment["status"],
            "payment_id": payment["id"],
            "status": payment["status"],
            "external_reference": pref["external_reference"] or "null",
            "payment_type": payment["payment_type_id"],
            "merchant_order_id": order_id,
            "preference_id": pref["id"],
            "site_id": pref["site_id"],
            "processing_mode": "aggregator",
            "merchant_account_id": "null",
        })
        sep = "&" if urlsplit(target).query else "?"
        return f"{target}{sep}{query}"

    # --- merchant orders -------------------------------------------------------------------
    def get_order(self, order_id: str) -> Doc:
        doc = self._store.merchant_orders.get(int(order_id)) if order_id.isdigit() else None
        if doc is None:
            raise not_found("Merchant Order not found", "not_found")
        return doc

    def search_orders(self, params: Mapping[str, str]) -> dict[str, Any]:
        docs = self._store.merchant_orders.values()
        for key in ("external_reference", "preference_id", "status", "order_status"):
            if params.get(key):
                docs = [d for d in docs if str(d.get(key)) == params[key]]
        docs.sort(key=lambda d: (d["date_created"], d["id"]))
        try:
            limit = max(1, min(100, int(params.get("limit") or 20)))
            offset = max(0, int(params.get("offset") or 0))
        except ValueError:
            raise bad_request("limit and offset must be integers", 400) from None
        page = docs[offset:offset + limit]
        return {"elements": page or None, "next_offset": offset + len(page), "total": len(docs)}

    def _payment_changed(self, _before: Doc, after: Doc) -> None:
        order_id = (after.get("order") or {}).get("id")
        if order_id and str(order_id).isdigit():
            self._sync(int(order_id), "update")

    def _sync(self, order_id: int, action: str) -> Doc:
        """Re-compute the merchant order from its payments and notify ``merchant_order``."""
        with self._store.lock:
            linked = [
                p for p in self._store.payments.values()
                if str((p.get("order") or {}).get("id")) == str(order_id)
            ]
            linked.sort(key=lambda p: int(p["id"]))

            def recompute(order: Doc) -> None:
                order["payments"] = [_order_payment(p) for p in linked]
                paid = round(sum(p["transaction_details"]["total_paid_amount"] for p in linked
                                 if p["status"] in ("approved", "refunded")), 2)
                refunded = round(sum(float(p.get("transaction_amount_refunded") or 0)
                                     for p in linked), 2)
                order["paid_amount"] = paid
                order["refunded_amount"] = refunded
                order["order_status"] = _order_status(order, linked, paid, refunded)
                order["status"] = "closed" if order["order_status"] == "paid" else "opened"
                order["last_updated"] = clock.iso(clock.now())

            result = self._store.merchant_orders.update(order_id, recompute)
            if result is None:
                raise not_found("Merchant Order not found", "not_found")
            _, order = result
            version = self._versions[order_id] = self._versions.get(order_id, -1) + 1
            self._notifier.notify("topic_merchant_order_wh", action, str(order_id),
                                  order.get("notification_url"),
                                  {"status": order.get("status"), "version": version})
            return order


def _order_payment(p: Doc) -> Doc:
    return {
        "id": p["id"],
        "transaction_amount": p["transaction_amount"],
        "total_paid_amount": p["transaction_details"]["total_paid_amount"],
        "shipping_cost": 0,
        "currency_id": p["currency_id"],
        "status": p["status"],
        "status_detail": p["status_detail"],
        "operation_type": p["operation_type"],
        "date_approved": p["date_approved"],
        "date_created": p["date_created"],
        "last_modified": p["date_last_updated"],
        "amount_refunded": float(p.get("transaction_amount_refunded") or 0),
    }


def _order_status(order: Doc, linked: list[Doc], paid: float, refunded: float) -> str:
    if paid > 0 and refunded >= paid - 0.001:
        return "reverted"
    if refunded > 0:
        return "partially_reverted"
    if paid >= float(order["total_amount"]) - 0.001:
        return "paid"
    if paid > 0:
        return "partially_paid"
    if any(p["status"] in ("in_process", "pending", "authorized") for p in linked):
        return "payment_in_process"
    return "payment_required"
