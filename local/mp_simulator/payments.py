"""Payments: creation (idempotent), reads, search and the one state-change function.

``change_status`` is the only way a stored payment changes state, and it always notifies
(``payment.updated``). Creation is dispatched on ``payment_type_id``: cards are served now;
PIX (``bank_transfer``) and tickets (``ticket``) add a creator to ``Payments._creators``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from . import cards, clock
from .config import SimulatorConfig
from .errors import bad_request, not_found
from .ids import IdSequence
from .notifications import Notifier
from .outcomes import (
    DEFAULT_DETAIL,
    STATUSES,
    Transition,
    outcome_for_cardholder,
    payment_type_for,
)
from .scheduler import Scheduler
from .search import search
from .store import Doc, Store

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MONEY_RELEASE_DAYS = 14

# builds a new payment document and its later automatic transition, if any
Creator = Callable[[int, dict[str, Any], datetime], tuple[Doc, Transition | None]]


def validate_common(body: dict[str, Any]) -> None:
    amount = body.get("transaction_amount")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 0:
        raise bad_request("Invalid transaction_amount", 4037)
    payer = body.get("payer")
    email = payer.get("email") if isinstance(payer, dict) else None
    if not isinstance(email, str) or not _EMAIL.match(email):
        raise bad_request("payer.email must be a valid email", 4050)
    url = body.get("notification_url")
    if url is not None and (not isinstance(url, str) or not re.match(r"^https?://[^/\s]+", url)):
        raise bad_request("notification_url attribute must be url valid", 4020)
    installments = body.get("installments", 1)
    if isinstance(installments, bool) or not isinstance(installments, int) or installments < 1:
        raise bad_request("Invalid installments", 4029)
    for key in ("description", "external_reference", "statement_descriptor"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise bad_request(f"{key} must be a string", 4000)
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        raise bad_request("metadata must be an object", 4000)


class Payments:
    def __init__(
        self, config: SimulatorConfig, store: Store, notifier: Notifier, scheduler: Scheduler
    ) -> None:
        self._config = config
        self._store = store
        self._notifier = notifier
        self._scheduler = scheduler
        self._ids = IdSequence(110_000_000_000, 130_000_000_000)
        self._creators: dict[str, Creator] = {
            "credit_card": self._create_card,
            "debit_card": self._create_card,
        }

    # --- reads ---------------------------------------------------------------------------
    def get(self, payment_id: str | int) -> Doc:
        key = int(payment_id) if str(payment_id).isdigit() else None
        doc = self._store.payments.get(key) if key is not None else None
        if doc is None:
            raise not_found("Payment not found", 2000)
        return doc

    def search(self, params: Mapping[str, str]) -> dict[str, Any]:
        return search(self._store.payments.values(), params)

    # --- creation ------------------------------------------------------------------------
    def create(self, body: Any, idempotency_key: str | None) -> tuple[Doc, bool]:
        if not idempotency_key:
            raise bad_request("Header X-Idempotency-Key can't be null", "idempotency_key")
        if len(idempotency_key) > 64:
            raise bad_request("X-Idempotency-Key must have 1 to 64 characters", "idempotency_key")
        if not isinstance(body, dict):
            raise bad_request("Invalid request body", 4000)
        transitions: list[Transition | None] = []

        def make() -> tuple[int, Doc]:
            validate_common(body)
            method = body.get("payment_method_id")
            if not isinstance(method, str) or not method:
                raise bad_request("payment_method_id attribute can't be null", 4)
            creator = self._creators.get(payment_type_for(method) or "")
            if creator is None:
                raise bad_request(
                    f"payment_method_id {method} is not supported by the simulator", 4
                )
            payment_id = self._ids.next()
            doc, later = creator(payment_id, body, clock.now())
            transitions.append(later)
            return payment_id, doc

        doc, created = self._store.idempotent(
            "payments", idempotency_key, make, self._store.payments
        )
        if created:
            log.info("payment %s created: %s/%s", doc["id"], doc["status"], doc["status_detail"])
            self._notifier.notify("payment", "payment.created", str(doc["id"]),
                                  doc.get("notification_url"))
            later = transitions[0] if transitions else None
            if later is not None:
                delay = float(getattr(self._config, later.delay))
                pid, was = doc["id"], (doc["status"], doc["status_detail"])

                def transition() -> None:
                    self.change_status(pid, later.status, later.status_detail, expect=was)

                self._scheduler.call_later(delay, transition)
        return doc, created

    def _base_doc(self, payment_id: int, body: dict[str, Any], moment: datetime) -> Doc:
        amount = float(body["transaction_amount"])
        installments = int(body.get("installments", 1))
        payer = body["payer"]
        ident = payer.get("identification") if isinstance(payer.get("identification"), dict) else {}
        stamp = clock.iso(moment)
        return {
            "id": payment_id,
            "date_created": stamp,
            "date_approved": None,
            "date_last_updated": stamp,
            "date_of_expiration": None,
            "money_release_date": None,
            "money_release_status": None,
            "operation_type": "regular_payment",
            "issuer_id": None if body.get("issuer_id") is None else str(body["issuer_id"]),
            "payment_method_id": body["payment_method_id"],
            "payment_type_id": payment_type_for(body["payment_method_id"]),
            "payment_method": {"id": body["payment_method_id"],
                               "type": payment_type_for(body["payment_method_id"])},
            "status": "pending",
            "status_detail": "pending_waiting_payment",
            "currency_id": self._config.currency,
            "description": body.get("description"),
            "live_mode": False,
            "sponsor_id": None,
            "authorization_code": None,
            "collector_id": self._config.user_id,
            "payer": {
                "id": None,
                "type": None,
                "email": payer["email"],
                "identification": {"type": ident.get("type"), "number": ident.get("number")},
                "first_name": payer.get("first_name"),
                "last_name": payer.get("last_name"),
                "entity_type": None,
            },
            "metadata": body.get("metadata") or {},
            "additional_info": body.get("additional_info") or {},
            "external_reference": body.get("external_reference"),
            "transaction_amount": amount,
            "transaction_amount_refunded": 0,
            "coupon_amount": 0,
            "transaction_details": {
                "net_received_amount": 0,
                "total_paid_amount": amount,
                "overpaid_amount": 0,
                "installment_amount": round(amount / installments, 2),
                "financial_institution": None,
                "payment_method_reference_id": None,
                "external_resource_url": None,
            },
            "fee_details": [],
            "captured": True,
            "binary_mode": bool(body.get("binary_mode", False)),
            "statement_descriptor": body.get("statement_descriptor"),
            "installments": installments,
            "notification_url": body.get("notification_url"),
            "refunds": [],
            "processing_mode": "aggregator",
            "point_of_interaction": {},
        }

    def _create_card(
        self, payment_id: int, body: dict[str, Any], moment: datetime
    ) -> tuple[Doc, Transition | None]:
        token = cards.consume_token(self._store, body.get("token"))
        doc = self._base_doc(payment_id, body, moment)
        doc["card"] = {
            "id": None,
            "first_six_digits": token["first_six_digits"],
            "last_four_digits": token["last_four_digits"],
            "expiration_month": token["expiration_month"],
            "expiration_year": token["expiration_year"],
            "date_created": token["date_created"],
            "date_last_updated": token["date_last_updated"],
            "cardholder": token["cardholder"],
        }
        outcome = outcome_for_cardholder(token["cardholder"]["name"])
        status, detail = outcome.status, outcome.status_detail
        if status == "approved" and body.get("capture") is False:
            status, detail = "authorized", "pending_capture"
            doc["captured"] = False
        _apply_status(doc, status, detail, moment)
        return doc, outcome.later

    # --- state changes -------------------------------------------------------------------
    def change_status(
        self,
        payment_id: int,
        status: str,
        status_detail: str | None = None,
        *,
        expect: tuple[str, str] | None = None,
    ) -> Doc | None:
        """Move a payment and notify ``payment.updated``.

        With ``expect`` the change applies only if the payment is still in that
        (status, status_detail): scheduled transitions never undo a later manual change.
        Returns the new document, or None when nothing changed because of ``expect``.
        """
        if status not in STATUSES:
            raise bad_request(f"unknown status {status}", "status")
        detail = status_detail or DEFAULT_DETAIL[status]
        skipped = False

        def change(doc: Doc) -> None:
            nonlocal skipped
            if expect is not None and (doc["status"], doc["status_detail"]) != expect:
                skipped = True
                return
            _apply_status(doc, status, detail, clock.now())

        result = self._store.payments.update(payment_id, change)
        if result is None:
            raise not_found("Payment not found", 2000)
        if skipped:
            return None
        _before, after = result
        log.info("payment %s -> %s/%s", payment_id, status, detail)
        self._notifier.notify("payment", "payment.updated", str(payment_id),
                              after.get("notification_url"))
        return after

    def resend(self, payment_id: int, action: str = "payment.updated") -> int | None:
        doc = self.get(payment_id)
        return self._notifier.notify("payment", action, str(doc["id"]), doc.get("notification_url"))


def _apply_status(doc: Doc, status: str, detail: str, moment: datetime) -> None:
    stamp = clock.iso(moment)
    doc["status"], doc["status_detail"] = status, detail
    doc["date_last_updated"] = stamp
    details = doc["transaction_details"]
    if status == "approved":
        if doc.get("date_approved") is None:
            doc["date_approved"] = stamp
        doc["money_release_date"] = clock.iso(moment + timedelta(days=MONEY_RELEASE_DAYS))
        doc["money_release_status"] = "pending"
        doc["captured"] = True
        details["net_received_amount"] = details["total_paid_amount"]
    elif status in ("rejected", "cancelled", "refunded", "charged_back"):
        details["net_received_amount"] = 0
    if status == "refunded":
        doc["transaction_amount_refunded"] = doc["transaction_amount"]

