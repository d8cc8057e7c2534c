"""Payments: creation (idempotent), reads, search and the one state-change function.

``change_status`` is the only way a stored payment changes state (refunds and chargebacks
pass their extra edits as ``mutate``), and it always notifies (``payment.updated``) and then
tells the ``listeners`` (merchant orders keep themselves in sync that way). Creation is
dispatched on ``payment_type_id``: cards (``credit_card``/``debit_card``, 3-D Secure with the
cardholder name ``3DSC``), PIX and SPEI (``bank_transfer``), tickets (``ticket``). Unpaid
offline payments expire (``cancelled``/``expired``) at ``date_of_expiration``.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from . import cards, clock, offline
from .config import SimulatorConfig
from .errors import bad_request, not_found
from .ids import IdSequence
from .notifications import Notifier
from .outcomes import (
    DEFAULT_DETAIL,
    OFFLINE_METHODS,
    OFFLINE_TYPES,
    STATUSES,
    Transition,
    currency_for,
    outcome_for_cardholder,
    payment_type_for,
)
from .scheduler import Scheduler
from .search import search
from .store import Doc, Store

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MONEY_RELEASE_DAYS = 14

THREE_DS_MODES = ("not_supported", "optional", "mandatory")
THREE_DS_CARDHOLDER = "3DSC"  # with three_d_secure_mode optional/mandatory: pending_challenge

# builds a new payment document (id, request body, now, simulator base URL) and its later
# automatic transition, if any
Creator = Callable[[int, dict[str, Any], datetime, str], tuple[Doc, Transition | None]]
# called after every change_status (before, after)
Listener = Callable[[Doc, Doc], None]


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
            "ticket": self._create_offline,
            "bank_transfer": self._create_offline,
        }
        self.listeners: list[Listener] = []

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
    def create(
        self,
        body: Any,
        idempotency_key: str | None,
        base_url: str = "",
        extra: Doc | None = None,
    ) -> tuple[Doc, bool]:
        """Create once per idempotency key. ``base_url``: the simulator's URL for the page
        links it answers with; ``extra``: fields set on the new document (e.g. ``order``)."""
        if not idempotency_key:
            # Mercado Pago: 400, cause 4292 "Header X-Idempotency-Key can't be null".
            raise bad_request("Header X-Idempotency-Key can't be null", 4292)
        if len(idempotency_key) > 64:
            raise bad_request("X-Idempotency-Key must have 1 to 64 characters", 4292)
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
            expected = currency_for(method, self._config.currency)
            if body.get("currency_id") is not None and body["currency_id"] != expected:
                raise bad_request(
                    f"currency_id {body['currency_id']} is not valid for {method}"
                    f" (expected {expected})", 4000,
                )
            tds = body.get("three_d_secure_mode")
            if tds is not None and tds not in THREE_DS_MODES:
                raise bad_request("three_d_secure_mode must be one of "
                                  + ", ".join(THREE_DS_MODES), 4000)
            payment_id = self._ids.next()
            doc, later = creator(payment_id, body, clock.now(), base_url)
            if extra:
                doc.update(extra)
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
            self._schedule_expiry(doc)
        return doc, created

    def _schedule_expiry(self, doc: Doc) -> None:
        """Unpaid offline payments turn cancelled/expired at their date_of_expiration."""
        if doc["payment_type_id"] not in OFFLINE_TYPES or doc["status"] != "pending":
            return
        if not doc.get("date_of_expiration"):
            return
        delay = (clock.parse_iso(doc["date_of_expiration"]) - clock.now()).total_seconds()
        pid, was = doc["id"], (doc["status"], doc["status_detail"])

        def expire() -> None:
            self.change_status(pid, "cancelled", "expired", expect=was)

        self._scheduler.call_later(delay, expire)

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
            "order": {},
            "payment_type_id": payment_type_for(body["payment_method_id"]),
            "payment_method": {"id": body["payment_method_id"],
                               "type": payment_type_for(body["payment_method_id"])},
            "status": "pending",
            "status_detail": "pending_waiting_payment",
            "currency_id": currency_for(body["payment_method_id"], self._config.currency),
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

    def _create_offline(
        self, payment_id: int, body: dict[str, Any], moment: datetime, base_url: str
    ) -> tuple[Doc, Transition | None]:
        method = OFFLINE_METHODS[body["payment_method_id"]]
        if body["payment_method_id"] == "bolbradesco":
            offline.validate_boleto_payer(body)
        expires = offline.date_of_expiration(body, method, moment)
        doc = self._base_doc(payment_id, body, moment)
        payer = body["payer"]
        if isinstance(payer.get("address"), dict):
            doc["payer"]["address"] = dict(payer["address"])
        _apply_status(doc, "pending", method.status_detail, moment)
        offline.apply_offline_fields(doc, body, base_url, expires)
        return doc, None

    def _create_card(
        self, payment_id: int, body: dict[str, Any], moment: datetime, base_url: str
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
        holder = str(token["cardholder"]["name"]).strip().split(" ", 1)[0].upper()
        doc["three_ds_info"] = None
        if (body.get("three_d_secure_mode") in ("optional", "mandatory")
                and holder == THREE_DS_CARDHOLDER):
            creq = base64.urlsafe_b64encode(
                f'{{"threeDSServerTransID":"{secrets.token_hex(16)}","messageType":"CReq",'
                f'"messageVersion":"2.1.0","paymentId":{payment_id}}}'.encode()
            ).decode().rstrip("=")
            doc["three_ds_info"] = {
                "external_resource_url": f"{base_url}/sandbox/3ds/{payment_id}",
                "creq": creq,
            }
            _apply_status(doc, "pending", "pending_challenge", moment)
            return doc, None
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
        mutate: Callable[[Doc], None] | None = None,
    ) -> Doc | None:
        """Move a payment and notify ``payment.updated``, then tell the listeners.

        With ``expect`` the change applies only if the payment is still in that
        (status, status_detail): scheduled transitions never undo a later manual change.
        ``mutate`` edits the document further in the same locked update (refunds,
        chargebacks). Returns the new document, or None when nothing changed because of
        ``expect``.
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
            if mutate is not None:
                mutate(doc)

        result = self._store.payments.update(payment_id, change)
        if result is None:
            raise not_found("Payment not found", 2000)
        if skipped:
            return None
        before, after = result
        log.info("payment %s -> %s/%s", payment_id, status, detail)
        self._notifier.notify("payment", "payment.updated", str(payment_id),
                              after.get("notification_url"))
        for listener in list(self.listeners):
            try:
                listener(before, after)
            except Exception:
                log.exception("payment listener failed")
        return after

    def backdate(self, payment_id: int, days: int) -> Doc:
        """Move the payment's dates into the past (not a state change: no notification)."""
        shift = timedelta(days=days)

        def change(doc: Doc) -> None:
            for key in ("date_created", "date_approved", "date_last_updated",
                        "money_release_date"):
                if doc.get(key):
                    doc[key] = clock.iso(clock.parse_iso(doc[key]) - shift)

        result = self._store.payments.update(payment_id, change)
        if result is None:
            raise not_found("Payment not found", 2000)
        return result[1]

    def resolve_challenge(self, payment_id: int | str, result: Any) -> Doc:
        """Finish a 3-D Secure challenge: ``approve`` or ``reject``."""
        if result not in ("approve", "reject"):
            raise bad_request("result must be approve or reject", 4000)
        doc = self.get(payment_id)
        if result == "approve":
            after = self.change_status(doc["id"], "approved", "accredited",
                                       expect=("pending", "pending_challenge"))
        else:
            after = self.change_status(doc["id"], "rejected", "cc_rejected_3ds_challenge",
                                       expect=("pending", "pending_challenge"))
        if after is None:
            raise bad_request("No 3DS challenge pending for this payment", 2063)
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
        details["net_received_amount"] = round(
            details["total_paid_amount"] - doc.get("transaction_amount_refunded", 0), 2
        )
    elif status in ("rejected", "cancelled", "refunded", "charged_back"):
        details["net_received_amount"] = 0
    if status == "refunded":
        doc["transaction_amount_refunded"] = doc["transaction_amount"]

