"""The decisions of create_payment's use case, as pure functions over plain values.

``Checkout.create`` runs four steps: begin (price, replay or claim the idempotency key) →
ensure the draft order → charge Mercado Pago → settle (record the attempt) or compensate
(delete a draft nothing was charged for). Every choice those steps make is taken here, so each
branch is a plain unit test; the use case only reads, calls these and writes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from enum import StrEnum
from typing import Any, Protocol

from shared.adapters.store.idempotency import BeginResult, InProgress, KeyReused, Replay, Started
from shared.domain.errors import (
    IdempotencyKeyReused,
    InvalidQuantity,
    MixedCurrency,
    NoSuchOrder,
    OrderNotPayable,
    RequestInProgress,
    UnknownProduct,
)
from shared.domain.money import format_amount, quantize
from shared.domain.orders import OrderStatus
from shared.domain.records import record
from shared.platform.schemas import (
    BankTransferPayment,
    CardPayment,
    CreatePaymentRequest,
    Item,
    Payment,
    PixPayment,
    TicketPayment,
)
from shared.usecases.attempt_limits import Admission, Attempt

MAX_QUANTITY = 99


@record(frozen=True)
class PricedOrder:
    order_id: str
    amount: Decimal
    currency: str
    items: list[dict[str, Any]]
    description: str
    existing: bool
    categories: dict[str, str] | None = None  # product id -> category; None: not read yet
    attempt_keys: tuple[str, ...] = ()  # Mercado Pago keys already used for this order


@record(frozen=True)
class CheckoutResult:
    status: int
    body: dict[str, Any]
    replayed: bool = False


# The order to charge, and whether its draft is written: True (by this request), None (not
# yet: the draft step decides).
Begun = tuple[PricedOrder, bool | None]


class Product(Protocol):
    """What pricing reads of a catalog product."""

    @property
    def id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def unit_price(self) -> Decimal: ...
    @property
    def currency(self) -> str: ...
    @property
    def active(self) -> bool: ...
    @property
    def category_id(self) -> str | None: ...


# -- keys -------------------------------------------------------------------------------

def attempt_key(order_id: str, card_token: str) -> str:
    """Mercado Pago's X-Idempotency-Key for one payment attempt: stable per (order, token)."""
    return hashlib.sha256(f"{order_id}:{card_token}".encode()).hexdigest()


def method_id(payment: Payment) -> str:
    if isinstance(payment, CardPayment | TicketPayment | PixPayment | BankTransferPayment):
        return payment.payment_method_id
    return "checkout_pro"


def payment_key(order_id: str, payment: Payment) -> str:
    """A card attempt is keyed by its single-use token; other methods by (order, method)."""
    if isinstance(payment, CardPayment):
        return attempt_key(order_id, payment.token)
    return hashlib.sha256(f"{order_id}:{method_id(payment)}".encode()).hexdigest()


def is_retry_of(order_id: str, payment: Payment, attempt_keys: tuple[str, ...]) -> bool:
    """A card attempt already made for this order (same order and single-use token): Mercado
    Pago answers it with the same payment, so it may be retried whatever the order's status."""
    return isinstance(payment, CardPayment) and payment_key(order_id, payment) in attempt_keys


# -- begin: pricing ---------------------------------------------------------------------

def check_quantities(items: Sequence[Item]) -> None:
    """Raise ``InvalidQuantity`` naming every line whose quantity is out of range."""
    bad = [{"path": f"$.items[{i}].quantity", "message": f"must be 1 to {MAX_QUANTITY}"}
           for i, item in enumerate(items) if not 1 <= item.quantity <= MAX_QUANTITY]
    if bad:
        raise InvalidQuantity("a quantity is out of range", bad)


def describe(lines: Sequence[Mapping[str, Any]]) -> str:
    return ", ".join(f"{line['quantity']}x {line['title']}" for line in lines)[:240]


def price_items(order_id: str, items: Sequence[Item],
                products: Mapping[str, Product]) -> PricedOrder:
    """A new order priced from the catalog's products (as read), or the refusal."""
    unknown = [{"path": f"$.items[{i}].product_id", "message": "unknown or inactive product"}
               for i, item in enumerate(items)
               if item.product_id not in products or not products[item.product_id].active]
    if unknown:
        raise UnknownProduct("a product is unknown or inactive", unknown)
    currencies = {products[i.product_id].currency for i in items}
    if len(currencies) != 1:
        raise MixedCurrency("the products are priced in different currencies")
    lines = []
    total = Decimal("0")
    for item in items:
        product = products[item.product_id]
        line_total = quantize(product.unit_price * item.quantity)
        total += line_total
        lines.append({
            "product_id": product.id, "title": product.title, "quantity": item.quantity,
            "unit_price": format_amount(product.unit_price),
            "line_total": format_amount(line_total),
        })
    categories = {i.product_id: c for i in items if (c := products[i.product_id].category_id)}
    return PricedOrder(order_id, quantize(total), currencies.pop(), lines, describe(lines),
                       False, categories)


def price_stored(order_id: str, order: Mapping[str, Any] | None,
                 payment: Payment) -> PricedOrder:
    """An existing order as stored, when it may take this payment (or the refusal)."""
    if order is None:
        raise NoSuchOrder("no such order")
    keys = tuple(order.get("attempt_keys") or ())
    if order.get("status") != OrderStatus.PENDING.value and not is_retry_of(
            order_id, payment, keys):
        raise OrderNotPayable("the order is not waiting for a payment",
                              detail={"order_status": order.get("status")})
    return PricedOrder(order_id, Decimal(order["amount"]), order["currency"],
                       order["items"], describe(order["items"]), True, attempt_keys=keys)


# -- begin: limits and the idempotency key ------------------------------------------------

def attempt_to_admit(request: CreatePaymentRequest, priced: PricedOrder,
                     client_ip: str) -> Attempt | None:
    """What the abuse limits count for this request; None for a retry of an attempt already
    made (same order and card token): it is not a new attempt."""
    if is_retry_of(priced.order_id, request.payment, priced.attempt_keys):
        return None
    card = request.payment.token if isinstance(request.payment, CardPayment) else None
    return Attempt(order_id=priced.order_id, new_order=not priced.existing, client_ip=client_ip,
                   payer_email=request.payer.email if request.payer else None, card_token=card,
                   attempts_made=len(priced.attempt_keys))


def claimed(begun: BeginResult, priced: PricedOrder, order_given: bool) -> PricedOrder | CheckoutResult:
    """What the idempotency record's answer means: a replay to answer, a refusal, or the
    order to charge (a resumed request reuses the order id its first run chose)."""
    if isinstance(begun, Replay):
        return CheckoutResult(begun.status, begun.body, replayed=True)
    if isinstance(begun, KeyReused):
        raise IdempotencyKeyReused("this Idempotency-Key was used with another request body")
    if isinstance(begun, InProgress):
        raise RequestInProgress("a request with this Idempotency-Key is still running",
                                retry_after=1)
    assert isinstance(begun, Started)
    if begun.order_id != priced.order_id and not order_given:
        return replace(priced, order_id=begun.order_id, existing=False, attempt_keys=())
    return priced


def opens_in_one_commit(priced: PricedOrder, key_digest: str | None,
                        record: Mapping[str, Any] | None, admission: Admission | None) -> bool:
    """A new order whose key has no record yet (or no key) is opened in one commit: counters,
    record and draft. A re-payment (slots, a remembered key) or an existing record (resumed,
    in progress, reused, expired) takes the sequential path, which answers each of them."""
    if priced.existing or (admission is not None and admission.slots):
        return False
    return key_digest is None or record is None


# -- ensure the draft -------------------------------------------------------------------

class DraftStep(StrEnum):
    CREATE = "create"              # a new order: write it pending before charging
    REMEMBER_KEY = "remember_key"  # an existing order: record this attempt's key first
    NOTHING = "nothing"            # an existing order that already knows this key


def draft_step(priced: PricedOrder, mp_key: str) -> DraftStep:
    """Before charging: a retry of this attempt must be recognised even once the order is
    paid (by this very payment), so an existing order learns the key first."""
    if not priced.existing:
        return DraftStep.CREATE
    if mp_key not in priced.attempt_keys:
        return DraftStep.REMEMBER_KEY
    return DraftStep.NOTHING


# -- settle or compensate ------------------------------------------------------------------

@record(frozen=True)
class Compensation:
    """What a failed charge leaves behind."""

    delete_draft: bool  # nothing was charged and this request wrote the order: remove it
    name_order: bool    # the answer names the order (kept, or not ours to delete)


def compensation(created_here: bool, outcome_unknown: bool) -> Compensation:
    """A definite refusal deletes the draft this request created; an unknown outcome keeps
    it (the charge may exist) and says which order to retry."""
    delete = created_here and not outcome_unknown
    return Compensation(delete_draft=delete, name_order=not delete)


def is_foreign(priced: PricedOrder, external_reference: str) -> bool:
    """Mercado Pago answered with a payment of another order."""
    return bool(external_reference) and external_reference != priced.order_id
