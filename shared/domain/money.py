"""Money as Decimal, never float: parsing, rounding, and the string form stored and shown."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

CENT = Decimal("0.01")


def to_decimal(value: Any) -> Decimal:
    """A Decimal from a JSON number (already Decimal, int or str); floats go through str()."""
    if isinstance(value, bool) or value is None:
        raise TypeError("not an amount")
    if isinstance(value, float):
        value = repr(value)
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError("amount is not finite")
    return amount


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def format_amount(amount: Decimal) -> str:
    return str(quantize(amount))


def same_money(a: Decimal, a_currency: str, b: Decimal, b_currency: str) -> bool:
    return quantize(a) == quantize(b) and a_currency.upper() == b_currency.upper()


def to_json_number(amount: Decimal) -> float:
    """The float the SDK's JSON encoder needs; refuses any amount a float cannot carry exactly."""
    number = float(quantize(amount))
    if Decimal(repr(number)) != quantize(amount):
        raise ValueError("amount cannot be sent exactly")
    return number
