"""Card tokens: validation of raw card data and the token document.

The simulator keeps only what Mercado Pago shows back (first six, last four, lengths,
expiry, cardholder): never the full number or the security code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from . import clock
from .errors import ApiError, bad_request
from .ids import token_id
from .store import Doc, Store


def _digits(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and value.isdigit() and value.isascii():
        return value
    return None


def _int(value: Any) -> int | None:
    text = _digits(value)
    return int(text) if text is not None else None


def validate(body: dict[str, Any], moment: datetime) -> list[tuple[int | str, str]]:
    """Mercado Pago card form error codes (205, E301, 208, 325, 209, 326, 224, E302, 221...)."""
    causes: list[tuple[int | str, str]] = []
    number = body.get("card_number")
    if number in (None, ""):
        causes.append(("205", "parameter cardNumber can not be null/empty"))
    else:
        digits = _digits(number)
        if digits is None or not 13 <= len(digits) <= 19:
            causes.append(("E301", "invalid parameter cardNumber"))
    month = _int(body.get("expiration_month"))
    year = _int(body.get("expiration_year"))
    if body.get("expiration_month") in (None, ""):
        causes.append(("208", "parameter cardExpirationMonth can not be null/empty"))
    elif month is None or not 1 <= month <= 12:
        causes.append(("325", "invalid parameter cardExpirationMonth"))
    if body.get("expiration_year") in (None, ""):
        causes.append(("209", "parameter cardExpirationYear can not be null/empty"))
    elif year is None or not (year < 100 or 1000 <= year <= 9999):
        causes.append(("326", "invalid parameter cardExpirationYear"))
    if month is not None and year is not None and 1 <= month <= 12:
        full_year = year + 2000 if year < 100 else year
        if (full_year, month) < (moment.year, moment.month):
            causes.append(("326", "invalid parameter cardExpirationYear (card expired)"))
    code = body.get("security_code")
    if code in (None, ""):
        causes.append(("224", "parameter securityCode can not be null/empty"))
    else:
        cvv = _digits(code)
        if cvv is None or not 3 <= len(cvv) <= 4:
            causes.append(("E302", "invalid parameter securityCode"))
    holder = body.get("cardholder")
    name = holder.get("name") if isinstance(holder, dict) else None
    if not isinstance(name, str) or not name.strip():
        causes.append(("221", "parameter cardholderName can not be null/empty"))
    ident = holder.get("identification") if isinstance(holder, dict) else None
    if ident is not None:
        if not isinstance(ident, dict) or not isinstance(ident.get("type"), str):
            causes.append(("322", "invalid parameter docType"))
        elif not isinstance(ident.get("number"), str | int) or not str(ident["number"]).strip():
            causes.append(("324", "invalid parameter docNumber"))
    return causes


def create_token(store: Store, body: dict[str, Any], public_key: str, ttl: float) -> Doc:
    moment = clock.now()
    causes = validate(body, moment)
    if causes:
        raise ApiError(400, "Invalid card data", causes)
    number = str(body["card_number"])
    month = int(str(body["expiration_month"]))
    year = int(str(body["expiration_year"]))
    holder = body["cardholder"]
    ident = holder.get("identification") or {}
    doc: Doc = {
        "id": token_id(),
        "public_key": public_key,
        "card_id": None,
        "luhn_validation": True,
        "status": "active",
        "date_used": None,
        "card_number_length": len(number),
        "date_created": clock.iso(moment),
        "first_six_digits": number[:6],
        "last_four_digits": number[-4:],
        "security_code_length": len(str(body["security_code"])),
        "expiration_month": month,
        "expiration_year": year + 2000 if year < 100 else year,
        "date_last_updated": clock.iso(moment),
        "date_due": clock.iso(moment + timedelta(seconds=ttl)),
        "live_mode": False,
        "require_esc": False,
        "cardholder": {
            "name": str(holder["name"]),
            "identification": {
                "type": ident.get("type"),
                "number": None if ident.get("number") is None else str(ident.get("number")),
            },
        },
    }
    store.card_tokens.put(doc["id"], doc)
    return doc


def consume_token(store: Store, token: Any) -> Doc:
    """Mark a token used and return it; unknown, used or expired tokens are a 400."""
    if not isinstance(token, str) or not token:
        raise bad_request("token is required", 2006)
    moment = clock.now()

    def use(doc: Doc) -> None:
        if doc["status"] == "active" and clock.parse_iso(doc["date_due"]) > moment:
            doc["status"] = "used"
            doc["date_used"] = clock.iso(moment)
            doc["date_last_updated"] = doc["date_used"]

    with store.lock:
        result = store.card_tokens.update(token, use)
        if result is None:
            raise bad_request("Card Token not found", 2006)
        before, _after = result
        if before["status"] != "active":
            raise bad_request("Invalid card_token_id: already used", 3003)
        if clock.parse_iso(before["date_due"]) <= moment:
            raise bad_request("Invalid card_token_id: expired", 3003)
        return before
