"""Abuse limits of create_payment: the pure part (settings, keys, windows, decisions).

Five limits bound what one buyer, card, address or order can make create_payment do
(docs/contracts.md, "Abuse limits"):

| limit | setting | default |
|---|---|---|
| card attempts per order | ``MAX_ATTEMPTS_PER_ORDER`` (``count``) | 5 |
| card attempts per card (first six + last four + expiry) | ``RATE_LIMIT_CARD`` | ``5/3600`` |
| payment attempts per payer e-mail | ``RATE_LIMIT_PAYER`` | ``10/3600`` |
| payment attempts per client IP | ``RATE_LIMIT_IP`` | ``100/600`` |
| new orders per client IP | ``RATE_LIMIT_ORDERS_IP`` | ``200/600`` |

``0`` switches a limit off. Windowed limits count in fixed windows (a counter document per
subject and window, see ``shared.adapters.store.limits``); the per-order cap is a fixed set of slot
documents, claimed with a create precondition, so it cannot be exceeded by concurrent attempts.
Subjects (card, e-mail, address) are stored only as keyed hashes (HMAC-SHA256 with
``RATE_LIMIT_KEY``), never in clear.

Nothing here does I/O: ``shared.adapters.store.limits`` reads and writes the counters.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from shared.domain.records import record

# Kinds of windowed counters; the first part of a counter document's id.
CARD = "card"
PAYER = "payer"
IP = "ip"
ORDERS_IP = "orders_ip"


@record(frozen=True)
class Rate:
    """At most ``count`` events per ``seconds``."""

    count: int
    seconds: int


def parse_rate(name: str, raw: str, default: str) -> Rate | None:
    """``"5/3600"`` -> ``Rate(5, 3600)``; ``"0"`` -> ``None`` (off). ``ValueError`` when malformed."""
    text = raw.strip() or default
    if text == "0":
        return None
    count, sep, seconds = text.partition("/")
    try:
        rate = Rate(int(count), int(seconds)) if sep else None
    except ValueError:
        rate = None
    if rate is None or rate.count < 1 or rate.seconds < 1:
        raise ValueError(f"{name} must be 'count/seconds' (e.g. {default}) or 0, got {raw!r}")
    return rate


def format_rate(rate: Rate | None) -> str:
    return "0" if rate is None else f"{rate.count}/{rate.seconds}"


def subject_hash(key: bytes, kind: str, value: str) -> str:
    """The keyed hash under which a subject is counted: never the subject itself."""
    return hmac.new(key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


def card_fingerprint(first_six: str, last_four: str, month: int, year: int) -> str:
    """What identifies a card for the per-card limit (hashed before it is stored)."""
    return f"{first_six}|{last_four}|{month:02d}|{year:04d}"


def normalise_email(email: str) -> str:
    return email.strip().lower()


@record(frozen=True)
class Counter:
    """One windowed counter an attempt increments: ``kind`` of subject ``subject`` (a hash)."""

    kind: str
    subject: str
    rate: Rate
    window_start: int  # unix seconds

    @property
    def doc_id(self) -> str:
        return f"{self.kind}-{self.subject}-{self.window_start}"

    @property
    def window_end(self) -> int:
        return self.window_start + self.rate.seconds


def counter(kind: str, subject: str, rate: Rate, now: datetime) -> Counter:
    moment = int(now.timestamp())
    return Counter(kind, subject, rate, moment - moment % rate.seconds)


def retry_after(c: Counter, now: datetime) -> int:
    """Whole seconds until ``c``'s window ends (at least 1)."""
    return max(1, c.window_end - int(now.timestamp()))


def first_exhausted(counts: dict[str, int], counters: list[Counter]) -> Counter | None:
    """The counter (of those given) whose window already holds ``rate.count`` attempts."""
    exhausted = [c for c in counters if counts.get(c.doc_id, 0) >= c.rate.count]
    # The one that frees up last decides when a retry can succeed.
    return max(exhausted, key=lambda c: c.window_end, default=None)


def slot_ids(order_id: str, limit: int) -> list[str]:
    """The per-order slot documents: an attempt claims one; there are only ``limit``."""
    return [f"{order_id}-{n}" for n in range(1, limit + 1)]
