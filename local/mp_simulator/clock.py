"""Time helpers: Mercado Pago's timestamp format and the search date syntax."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# Mercado Pago answers in its own zone, e.g. "2024-01-10T12:00:00.000-04:00".
MP_TZ = timezone(timedelta(hours=-4))

_RELATIVE = re.compile(r"^NOW(?:([+-])(\d+)(MINUTES?|HOURS?|DAYS?|WEEKS?|MONTHS?))?$")
_UNITS = {"MINUTE": 60, "HOUR": 3600, "DAY": 86400, "WEEK": 7 * 86400, "MONTH": 30 * 86400}


def now() -> datetime:
    return datetime.now(MP_TZ)


def iso(moment: datetime) -> str:
    """Render like Mercado Pago: millisecond precision and a numeric offset."""
    text = moment.astimezone(MP_TZ).isoformat(timespec="milliseconds")
    return text


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=MP_TZ)
    return moment


def parse_search_date(text: str, reference: datetime | None = None) -> datetime:
    """``begin_date`` / ``end_date`` values: ISO 8601 or ``NOW``, ``NOW-30DAYS``, ``NOW+1HOUR``."""
    text = text.strip().replace(" ", "+")  # an unescaped "+" in a query string arrives as " "
    value = text.upper()
    match = _RELATIVE.match(value)
    if match is None:
        return parse_iso(text)
    base = reference or now()
    sign, amount, unit = match.groups()
    if sign is None:
        return base
    seconds = int(amount) * _UNITS[unit.rstrip("S")]
    return base + timedelta(seconds=seconds if sign == "+" else -seconds)
