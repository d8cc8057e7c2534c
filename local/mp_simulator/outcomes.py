"""Outcome tables: what a test cardholder name does, and the statuses a payment may take."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transition:
    """A later, automatic state change (e.g. CONT: in_process -> approved)."""

    status: str
    status_detail: str
    delay: str  # name of the config attribute holding the delay in seconds


@dataclass(frozen=True)
class Outcome:
    status: str
    status_detail: str
    later: Transition | None = None


APPROVED = Outcome("approved", "accredited")

# Mercado Pago's test cardholder names (the first name chooses the outcome).
CARDHOLDER_OUTCOMES: dict[str, Outcome] = {
    "APRO": APPROVED,
    "OTHE": Outcome("rejected", "cc_rejected_other_reason"),
    "CONT": Outcome(
        "in_process",
        "pending_contingency",
        later=Transition("approved", "accredited", delay="cont_delay"),
    ),
    "CALL": Outcome("rejected", "cc_rejected_call_for_authorize"),
    "FUND": Outcome("rejected", "cc_rejected_insufficient_amount"),
    "SECU": Outcome("rejected", "cc_rejected_bad_filled_security_code"),
    "EXPI": Outcome("rejected", "cc_rejected_bad_filled_date"),
    "FORM": Outcome("rejected", "cc_rejected_bad_filled_other"),
}


def outcome_for_cardholder(name: str) -> Outcome:
    first = name.strip().split(" ", 1)[0].upper() if name.strip() else ""
    return CARDHOLDER_OUTCOMES.get(first, APPROVED)


# status -> default status_detail when a control call gives none.
DEFAULT_DETAIL: dict[str, str] = {
    "pending": "pending_waiting_payment",
    "approved": "accredited",
    "authorized": "pending_capture",
    "in_process": "pending_review_manual",
    "in_mediation": "in_mediation",
    "rejected": "cc_rejected_other_reason",
    "cancelled": "by_collector",
    "refunded": "refunded",
    "charged_back": "in_process",
}

STATUSES = frozenset(DEFAULT_DETAIL)

# payment_method_id -> payment_type_id for cards (currency: the simulator's default).
CARD_METHODS: dict[str, str] = {
    "visa": "credit_card",
    "master": "credit_card",
    "amex": "credit_card",
    "elo": "credit_card",
    "hipercard": "credit_card",
    "cabal": "credit_card",
    "naranja": "credit_card",
    "debvisa": "debit_card",
    "debmaster": "debit_card",
    "debelo": "debit_card",
}


@dataclass(frozen=True)
class OfflineMethod:
    """A country-specific method: fixed currency, paid later (or never) outside the API."""

    payment_type_id: str  # "ticket" or "bank_transfer"
    currency_id: str
    status_detail: str  # the pending detail at creation
    default_expiry_hours: float


OFFLINE_METHODS: dict[str, OfflineMethod] = {
    "pix": OfflineMethod("bank_transfer", "BRL", "pending_waiting_transfer", 24),
    "clabe": OfflineMethod("bank_transfer", "MXN", "pending_waiting_transfer", 72),
    "bolbradesco": OfflineMethod("ticket", "BRL", "pending_waiting_payment", 72),
    "oxxo": OfflineMethod("ticket", "MXN", "pending_waiting_payment", 72),
    "paycash": OfflineMethod("ticket", "MXN", "pending_waiting_payment", 72),
    "rapipago": OfflineMethod("ticket", "ARS", "pending_waiting_payment", 72),
    "pagofacil": OfflineMethod("ticket", "ARS", "pending_waiting_payment", 72),
}

OFFLINE_TYPES = frozenset({"ticket", "bank_transfer"})


def payment_type_for(method_id: str) -> str | None:
    offline = OFFLINE_METHODS.get(method_id)
    return offline.payment_type_id if offline else CARD_METHODS.get(method_id)


def currency_for(method_id: str, default: str) -> str:
    offline = OFFLINE_METHODS.get(method_id)
    return offline.currency_id if offline else default
