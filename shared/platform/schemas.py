"""The create_payment request: its shape, checked with msgspec, and the raw-card-data guard."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

# Keys that carry raw card data. A server must never receive them: the browser tokenizes the
# card with Mercado Pago and sends only the token.
_RAW_CARD_KEYS = frozenset({
    "cardnumber", "number_card", "pan", "securitycode", "cvv", "cvc", "cvv2", "cid",
    "expirationmonth", "expirationyear", "expirationdate", "cardexpiration", "expiry",
    "track1", "track2",
})
_NORMALISE = re.compile(r"[^a-z0-9]")

# Patterns end in \Z, not $: msgspec searches with Python's re, where $ also matches before a
# trailing newline ("abc\n" would pass ^[a-z]+$).
ProductId = Annotated[str, msgspec.Meta(min_length=1, max_length=128,
                                        pattern=r"^[A-Za-z0-9_.\-]+\Z")]
OrderId = Annotated[str, msgspec.Meta(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+\Z")]
_RESERVED_ID = re.compile(r"__.*__|\.|\.\.")  # Firestore refuses these document ids


def is_reserved_id(value: str) -> bool:
    """Firestore's reserved document ids (``__x__``, ``.``, ``..``): never a lookup key."""
    return bool(_RESERVED_ID.fullmatch(value))


class Item(msgspec.Struct, forbid_unknown_fields=True):
    product_id: ProductId
    quantity: int


class Identification(msgspec.Struct, forbid_unknown_fields=True):
    type: Annotated[str, msgspec.Meta(min_length=2, max_length=16, pattern=r"^[A-Za-z]+\Z")]
    number: Annotated[str, msgspec.Meta(min_length=3, max_length=32, pattern=r"^[0-9A-Za-z.\-]+\Z")]


class Address(msgspec.Struct, forbid_unknown_fields=True):
    zip_code: Annotated[str, msgspec.Meta(min_length=3, max_length=16)]
    street_name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    street_number: Annotated[str, msgspec.Meta(min_length=1, max_length=16)]
    neighborhood: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    city: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    federal_unit: Annotated[str, msgspec.Meta(min_length=2, max_length=3)]


class Phone(msgspec.Struct, forbid_unknown_fields=True):
    area_code: Annotated[str, msgspec.Meta(min_length=1, max_length=8, pattern=r"^[0-9]+$")]
    number: Annotated[str, msgspec.Meta(min_length=4, max_length=20, pattern=r"^[0-9\-]+$")]


class Payer(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+\Z")]
    identification: Identification | None = None
    first_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    last_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)] | None = None
    address: Address | None = None
    phone: Phone | None = None


Token = Annotated[str, msgspec.Meta(min_length=8, max_length=256, pattern=r"^[A-Za-z0-9\-]+\Z")]
MethodId = Annotated[str, msgspec.Meta(min_length=2, max_length=40, pattern=r"^[a-z_]+\Z")]


class CardPayment(msgspec.Struct, forbid_unknown_fields=True, tag_field="method", tag="card"):
    token: Token
    payment_method_id: MethodId
    installments: Annotated[int, msgspec.Meta(ge=1, le=36)] = 1
    issuer_id: Annotated[str, msgspec.Meta(max_length=32, pattern=r"^[0-9]+\Z")] | None = None


class PixPayment(msgspec.Struct, forbid_unknown_fields=True, tag_field="method", tag="pix"):
    payment_method_id: Literal["pix"] = "pix"


class TicketPayment(msgspec.Struct, forbid_unknown_fields=True, tag_field="method", tag="ticket"):
    payment_method_id: Literal["bolbradesco", "oxxo", "paycash", "rapipago", "pagofacil"]


class BankTransferPayment(msgspec.Struct, forbid_unknown_fields=True, tag_field="method",
                          tag="bank_transfer"):
    payment_method_id: Literal["clabe"] = "clabe"


class CheckoutProPayment(msgspec.Struct, forbid_unknown_fields=True, tag_field="method",
                         tag="checkout_pro"):
    pass


Payment = CardPayment | PixPayment | TicketPayment | BankTransferPayment | CheckoutProPayment


class CreatePaymentRequest(msgspec.Struct, forbid_unknown_fields=True):
    payment: Payment
    payer: Payer | None = None
    items: Annotated[list[Item], msgspec.Meta(min_length=1, max_length=50)] | None = None
    order_id: OrderId | None = None


SUPPORTED_METHODS = ("card", "pix", "ticket", "bank_transfer", "checkout_pro")


def raw_card_fields(value: Any, path: str = "$") -> list[str]:
    """Paths of every key that looks like raw card data, at any depth."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, child in value.items():
            here = f"{path}.{key}"
            if _NORMALISE.sub("", str(key).lower()) in _RAW_CARD_KEYS:
                found.append(here)
            found.extend(raw_card_fields(child, here))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(raw_card_fields(child, f"{path}[{index}]"))
    return found


class SchemaError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def parse_request(payload: Any) -> CreatePaymentRequest:
    """Validate an already-parsed JSON value. Raises :class:`SchemaError` with the failing path."""
    if not isinstance(payload, dict):
        raise SchemaError("$", "the body must be a JSON object")
    _check_method(payload)
    request = _convert(payload)
    _check_payer(request)
    if (request.items is None) == (request.order_id is None):
        raise SchemaError("$", "give either items (a new order) or order_id (pay an existing one)")
    if request.order_id is not None and is_reserved_id(request.order_id):
        raise SchemaError("$.order_id", "not an order id")
    if request.items is not None:
        _check_items(request.items)
    return request


def _check_method(payload: dict[str, Any]) -> None:
    method = payload.get("payment", {}).get("method") if isinstance(
        payload.get("payment"), dict) else None
    if method is None:
        raise SchemaError("$.payment.method", "Object missing required field `method`")
    if method not in SUPPORTED_METHODS:
        raise SchemaError("$.payment.method", f"unsupported payment method {str(method)[:20]!r}")


def _convert(payload: dict[str, Any]) -> CreatePaymentRequest:
    try:
        return msgspec.convert(payload, CreatePaymentRequest)
    except msgspec.ValidationError as exc:
        message = str(exc)
        path = "$"
        if " - at `" in message:
            message, _, rest = message.partition(" - at `")
            path = rest.rstrip("`")
        # msgspec never echoes values in its messages, so this is safe to return and log.
        raise SchemaError(path, message) from None


def _check_payer(request: CreatePaymentRequest) -> None:
    """A payer for every method but Checkout Pro; boleto needs the payer in full."""
    if request.payer is None and not isinstance(request.payment, CheckoutProPayment):
        raise SchemaError("$.payer", "Object missing required field `payer`")
    if isinstance(request.payment, TicketPayment) and request.payment.payment_method_id == \
            "bolbradesco":
        payer = request.payer
        assert payer is not None
        missing = [name for name, value in (("first_name", payer.first_name),
                                            ("last_name", payer.last_name),
                                            ("identification", payer.identification),
                                            ("address", payer.address)) if value is None]
        if missing:
            raise SchemaError(f"$.payer.{missing[0]}", "boleto needs the payer's " +
                              ", ".join(missing))


def _check_items(items: list[Item]) -> None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if is_reserved_id(item.product_id):
            raise SchemaError(f"$.items[{index}].product_id", "not a product id")
        if item.product_id in seen:
            raise SchemaError(f"$.items[{index}].product_id", "duplicate product_id")
        seen.add(item.product_id)
