"""Mercado Pago's Webhooks on the wire: the topic names, the ``x-signature`` check and what
a notification's query, headers and body announce.

Imported by ipn_webhook: standard library only (no Mercado Pago SDK).

**Signature**: stateless, typed failure reasons, injected clock.
Rules (see README, "Webhook signature"):
- header ``ts=<timestamp>,v1=<hex>``: split on ``,``, then on the first ``=``;
- manifest ``id:<data.id>;request-id:<x-request-id>;ts:<ts>;``, a part left out when its value
  is absent;
- HMAC-SHA256 keyed with the webhook secret, hex, compared in constant time;
- ``data.id`` tried as received, then lowercased (official sources disagree);
- ``ts`` in seconds or milliseconds (13 digits) for the freshness window;
- several secrets accepted (current and previous during a rotation).

The official SDK's ``WebhookSignatureValidator`` implements the same manifest, but it lives in
the ``mercadopago`` package (importing it loads the whole SDK, which ipn_webhook does not
otherwise need), it tries only one casing and one secret, and its freshness check treats a
13-digit ``ts`` as seconds. The unit tests check that both accept the same vectors.

**Topics**: the names on the wire and inside the project live in
:mod:`shared.adapters.mercadopago.topics` (fulfill needs them, not the signature check).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

from shared.adapters.mercadopago import topics
from shared.domain.records import record

# -- the x-signature ----------------------------------------------------------------------
_MS_THRESHOLD = 100_000_000_000  # a ts above this is in milliseconds (year 5138 in seconds)


class SignatureFailure(StrEnum):
    NO_SECRET = "no_secret"
    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    MALFORMED_DATA_ID = "malformed_data_id"
    DATA_ID_MISMATCH = "data_id_mismatch"
    MISSING_TS = "missing_ts"
    MISSING_V1 = "missing_v1"
    INVALID_TS = "invalid_ts"
    STALE = "stale"
    MISMATCH = "mismatch"


@record(frozen=True)
class SignatureResult:
    ok: bool
    failure: SignatureFailure | None = None
    secret_index: int | None = None  # 0 = current secret, 1 = previous
    ts: str = ""  # the signed timestamp, as sent (names the notification's task)

    def __bool__(self) -> bool:
        return self.ok


@record(frozen=True)
class ParsedSignature:
    ts: str
    v1: tuple[str, ...]


_MAX_TS_DIGITS = 16  # milliseconds until the year 318857; anything longer is not a time
_V1_LENGTH = 64  # hex SHA-256


def _ascii_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _hex_digest(value: str) -> bool:
    return len(value) == _V1_LENGTH and value.isascii() and all(
        c in "0123456789abcdef" for c in value)


def parse_header(x_signature: str) -> ParsedSignature | SignatureFailure:
    """Split ``ts=<digits>,v1=<hex>``: exactly one ``ts`` and one ``v1``. An empty or repeated
    part, a non-ASCII, non-digit or over-long ``ts``, a ``v1`` that is not 64 hex digits is
    malformed (a 401, never an exception)."""
    ts = ""
    v1: list[str] = []
    seen: set[str] = set()
    for part in x_signature.split(","):
        key, sep, value = part.strip().partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not key or not value or key in seen:
            return SignatureFailure.MALFORMED_HEADER
        seen.add(key)
        if key == "ts":
            if ts:
                return SignatureFailure.MALFORMED_HEADER
            if not _ascii_digits(value) or len(value) > _MAX_TS_DIGITS:
                return SignatureFailure.INVALID_TS
            ts = value
        elif key == "v1":
            value = value.lower()
            if not _hex_digest(value):
                return SignatureFailure.MALFORMED_HEADER
            v1.append(value)
    if not ts:
        return SignatureFailure.MISSING_TS
    if not v1:
        return SignatureFailure.MISSING_V1
    return ParsedSignature(ts=ts, v1=tuple(v1))


def manifest(data_id: str | None, request_id: str | None, ts: str) -> str:
    parts = []
    if data_id:
        parts.append(f"id:{data_id};")
    if request_id:
        parts.append(f"request-id:{request_id};")
    parts.append(f"ts:{ts};")
    return "".join(parts)


def sign(secret: str, data_id: str | None, request_id: str | None, ts: str) -> str:
    """The ``v1`` value Mercado Pago would send (used by tests, the simulator and mpctl)."""
    message = manifest(data_id, request_id, ts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def ts_seconds(ts: str) -> float | None:
    if not _ascii_digits(ts) or len(ts) > _MAX_TS_DIGITS:
        return None
    value = int(ts)
    return value / 1000 if value >= _MS_THRESHOLD else float(value)


def verify(
    x_signature: str | None,
    x_request_id: str | None,
    data_id: str | None,
    secrets: Sequence[str],
    *,
    tolerance_seconds: int,
    now: float,
) -> SignatureResult:
    """Check one notification. ``tolerance_seconds=0`` switches the freshness window off."""
    usable = [s for s in secrets if s]
    if not usable:
        return SignatureResult(False, SignatureFailure.NO_SECRET)
    if not x_signature:
        return SignatureResult(False, SignatureFailure.MISSING_HEADER)
    parsed = parse_header(x_signature)
    if isinstance(parsed, SignatureFailure):
        return SignatureResult(False, parsed)
    seconds = ts_seconds(parsed.ts)
    if seconds is None:
        return SignatureResult(False, SignatureFailure.INVALID_TS)
    if tolerance_seconds and abs(now - seconds) > tolerance_seconds:
        return SignatureResult(False, SignatureFailure.STALE)
    ids: list[str | None] = [data_id]
    if data_id and data_id.lower() != data_id:
        ids.append(data_id.lower())
    matched: int | None = None
    for index, secret in enumerate(usable):
        for candidate in ids:
            expected = sign(secret, candidate, x_request_id, parsed.ts)
            for received in parsed.v1:
                if hmac.compare_digest(expected, received) and matched is None:
                    matched = index
    if matched is None:
        return SignatureResult(False, SignatureFailure.MISMATCH)
    return SignatureResult(True, secret_index=matched, ts=parsed.ts)


# -- the notification -------------------------------------------------------------------------
_RESOURCE_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_PAYMENT_ID = re.compile(r"[0-9]{1,20}")


class Rejected(Exception):
    """The request cannot be what Mercado Pago signed (answered 401, like a bad signature)."""

    def __init__(self, failure: SignatureFailure, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


class MalformedNotification(ValueError):
    """A signed notification without the resource it must name (answered 400)."""


@record(frozen=True)
class Notification:
    topic: str  # the project's topic name (payment, merchant_order, chargebacks, fraud_alert)
    resource_id: str
    action: str
    request_id: str
    signed_key: str  # what the signature covers: data.id, x-request-id, ts
    resource_signed: bool = True  # False: the resource id came from the (unsigned) body

    def key(self) -> str:
        return self.signed_key


def is_legacy_ipn(query: Mapping[str, str]) -> bool:
    """``?topic=...&id=...``: Mercado Pago's IPN, which carries no verifiable signature."""
    return "topic" in query and "type" not in query and "data.id" not in query


def check_query_id(query: Mapping[str, str]) -> str | None:
    """The query ``data.id``, checked before any verification: ASCII, 1-64 characters, and
    present when the query's topic names its resource there. :class:`Rejected` otherwise."""
    data_id = query.get("data.id")
    topic = topics.from_wire(query.get("type", ""))
    if data_id is None:
        if topic in topics.RESOURCE_IN_QUERY:
            raise Rejected(SignatureFailure.MALFORMED_DATA_ID, "data.id missing from the query")
        return None
    if not _RESOURCE_ID.fullmatch(data_id):
        raise Rejected(SignatureFailure.MALFORMED_DATA_ID, "query data.id is not a resource id")
    return data_id


def _action(body: Mapping[str, Any]) -> str:
    action = body.get("action")
    if not isinstance(action, str):
        actions = body.get("actions")  # chargebacks: "actions": ["changed_case_status"]
        action = next((a for a in actions if isinstance(a, str)), "") if isinstance(
            actions, list) else ""
    return action[:64]


def parse_notification(query: Mapping[str, str], headers: Mapping[str, str],
                       body: Mapping[str, Any], ts: str) -> Notification | None:
    """The notification a verified request announces; None for a topic this project ignores.
    :class:`Rejected` when the body names another resource than the signed query,
    :class:`MalformedNotification` when no resource is named."""
    wire = query.get("type") or (body.get("type") if isinstance(body.get("type"), str) else "")
    topic = topics.from_wire(str(wire))
    if topic is None:
        return None
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    assert isinstance(data, dict)
    query_id = query.get("data.id")
    body_id = data.get("id")
    if query_id is not None and body_id is not None and \
            str(body_id).lower() != query_id.lower():
        raise Rejected(SignatureFailure.DATA_ID_MISMATCH, "body data.id differs from the query")
    request_id = headers.get("x-request-id", "")
    signed_key = "|".join(["signed", (query_id or "").lower(), request_id, ts])
    if query_id is not None:
        resource, resource_signed = query_id, True
    elif topic == topics.FRAUD_ALERT:
        # Mercado Pago's documented fraud alert has no data.id: the payment is named only in
        # the body. Fulfil then records the alert only for a payment of one of our orders.
        payment_id = str(data.get("payment_id") or "")
        if not _PAYMENT_ID.fullmatch(payment_id):
            raise MalformedNotification("data.payment_id is required")
        resource, resource_signed = payment_id, False
    else:  # unreachable: check_query_id requires data.id for these topics
        raise MalformedNotification("data.id is required")
    return Notification(topic=topic, resource_id=resource, action=_action(body),
                        request_id=request_id[:128], signed_key=signed_key,
                        resource_signed=resource_signed)
