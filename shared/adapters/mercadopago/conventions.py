"""Mercado Pago's conventions outside any one call: its date format and its test credentials.

Standard library only: create_payment, reconcile and mpctl import it without the SDK.
"""

from __future__ import annotations

from datetime import UTC, datetime

TEST_CREDENTIAL_PREFIX = "TEST-"


def mp_datetime(moment: datetime) -> str:
    """Mercado Pago's date format: ISO 8601 in UTC with milliseconds and an offset
    (``2026-01-02T03:04:05.678+00:00``), for request fields and search ranges."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_mp_datetime(value: str | None) -> datetime | None:
    """A date Mercado Pago sent (``2026-01-02T03:04:05.678-04:00``); a date without an offset
    is read as UTC; None for an absent or unreadable one."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_test_credential(token: str | None) -> bool:
    """A sandbox credential (``TEST-...`` access token or public key): Mercado Pago's test
    environment, whatever the project's settings say."""
    return bool(token) and str(token).startswith(TEST_CREDENTIAL_PREFIX)
