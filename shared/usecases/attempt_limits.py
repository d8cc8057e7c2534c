"""create_payment's gate: an attempt is counted, or refused before anything else is written
and before Mercado Pago is called (``shared.domain.limits`` decides, ``shared.adapters.store.limits`` counts).

Order of the checks, cheapest first, so a refused attempt costs no call to Mercado Pago:
1. the per-order cap from the order already read (``attempt_keys``);
2. the windowed counters of the client IP, the payer e-mail and (new orders) orders per IP;
3. only then, when the per-card limit is on, the token's card (``GET /v1/card_tokens/{id}``)
   and its counter;
4. one commit: every counter's increment and, on an existing order, a free attempt slot.

``check`` runs 1-3 and writes nothing; ``commit`` is step 4. create_payment reads the windowed
counters ahead (``prefetch``) with its other documents, and writes a new order's counters in
the commit that creates the order (``shared.adapters.store.checkout_io``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from shared.adapters.mercadopago.models import CardTokenSnapshot
from shared.adapters.store.limits import LimitStore
from shared.domain.errors import NotConfigured, RateLimited, TooManyAttempts
from shared.domain.limits import (
    CARD,
    IP,
    ORDERS_IP,
    PAYER,
    Counter,
    Rate,
    card_fingerprint,
    counter,
    first_exhausted,
    normalise_email,
    retry_after,
    slot_ids,
    subject_hash,
)
from shared.domain.records import record
from shared.platform import log
from shared.platform.config import Settings


@record(frozen=True)
class Admission:
    """What an admitted attempt writes: its counters' increments and, on an existing order,
    one of ``slots`` (none: no slot to claim)."""

    order_id: str
    counters: tuple[Counter, ...]
    slots: tuple[str, ...]
    now: datetime


@record(frozen=True)
class Attempt:
    order_id: str
    new_order: bool
    client_ip: str
    payer_email: str | None = None
    card_token: str | None = None  # card payments only
    attempts_made: int = 0  # attempts already recorded on an existing order


def rate_limited(c: Counter, now: datetime) -> RateLimited:
    seconds = retry_after(c, now)
    log.warning("attempt_rate_limited", "payment attempt refused by a rate limit",
                limit=c.kind, retry_after=seconds)
    return RateLimited("too many attempts; retry later", retry_after=seconds,
                       detail={"retry_after": seconds})


def too_many_attempts(limit: int) -> TooManyAttempts:
    log.warning("attempt_rate_limited", "payment attempt refused by the per-order cap",
                limit="order", max_attempts=limit)
    return TooManyAttempts(f"this order allows {limit} card attempts; start a new order")


class AttemptGuard:
    def __init__(
        self,
        settings: Settings,
        store: LimitStore,
        hash_key: Callable[[], str | None],
        card_of: Callable[[str], CardTokenSnapshot],
        clock: Callable[[], datetime],
    ) -> None:
        self._s = settings
        self._store = store
        self._hash_key = hash_key
        self._card_of = card_of
        self._clock = clock

    def _key(self) -> bytes:
        key = self._hash_key()
        if not key:
            log.error("secret_missing", "RATE_LIMIT_KEY unavailable; refusing to charge")
            raise NotConfigured("the attempt limits are not configured")
        return key.encode()

    def prefetch(self, client_ip: str, payer_email: str | None,
                 new_order: bool) -> list[Counter]:
        """The windowed counters an attempt like this one is checked against, for the caller
        to read ahead with its other documents (``check``'s ``seen``); none without the key
        (``check`` then refuses)."""
        subjects = self._subjects(client_ip, payer_email, new_order)
        key = self._hash_key() if subjects else None
        if not key:
            return []
        return self._counters(key.encode(), subjects, self._clock())

    def admit(self, attempt: Attempt) -> None:
        """Count ``attempt`` or raise its 429 (``rate_limited`` / ``too_many_attempts``)."""
        self.commit(self.check(attempt))

    def check(self, attempt: Attempt, seen: Mapping[str, int] | None = None) -> Admission:
        """Every check, nothing written: what the attempt writes once admitted, or its 429.
        ``seen``: counts already read (by counter document id), used when they cover the
        windowed counters; the card's counter is read here, after the token's card."""
        s = self._s
        now = self._clock()
        slots: tuple[str, ...] = ()
        if attempt.card_token is not None and not attempt.new_order and s.max_attempts_per_order:
            if attempt.attempts_made >= s.max_attempts_per_order:
                raise too_many_attempts(s.max_attempts_per_order)
            # The creating attempt was the first: slots 2..limit. All of them are candidates:
            # racing attempts claim slots in random order, so the count of attempts recorded on
            # the order says nothing about which slots are still free.
            slots = tuple(slot_ids(attempt.order_id, s.max_attempts_per_order)[1:])
        subjects = self._subjects(attempt.client_ip, attempt.payer_email, attempt.new_order)
        card_on = attempt.card_token is not None and s.rate_limit_card is not None
        counters: list[Counter] = []
        if subjects or card_on:
            key = self._key()
            counters = self._counters(key, subjects, now)
            self._refuse_if_full(counters, now, seen)
            if attempt.card_token is not None and s.rate_limit_card is not None:
                card = self._card_of(attempt.card_token)
                fingerprint = card_fingerprint(card.first_six, card.last_four,
                                               card.expiration_month, card.expiration_year)
                card_counter = counter(CARD, subject_hash(key, CARD, fingerprint),
                                       s.rate_limit_card, now)
                self._refuse_if_full([card_counter], now)
                counters.append(card_counter)
        return Admission(attempt.order_id, tuple(counters), slots, now)

    def commit(self, admission: Admission) -> None:
        """Write what ``check`` admitted: the counters and, on an existing order, a free slot
        (``too_many_attempts`` when every slot is taken)."""
        counters = list(admission.counters)
        if not admission.slots:
            if counters:
                self._store.commit(counters, None, admission.order_id, admission.now)
            return
        # In random order: racing attempts spread over the slots instead of queueing on one.
        for slot in random.sample(admission.slots, len(admission.slots)):
            if self._store.commit(counters, slot, admission.order_id, admission.now):
                return
        raise too_many_attempts(self._s.max_attempts_per_order)

    def _subjects(self, client_ip: str, payer_email: str | None,
                  new_order: bool) -> list[tuple[str, Rate, str]]:
        """The windowed limits that are on, with the subject each counts."""
        s = self._s
        subjects: list[tuple[str, Rate | None, str]] = [(IP, s.rate_limit_ip, client_ip)]
        if payer_email:
            subjects.append((PAYER, s.rate_limit_payer, normalise_email(payer_email)))
        if new_order:
            subjects.append((ORDERS_IP, s.rate_limit_orders_ip, client_ip))
        return [(kind, rate, value) for kind, rate, value in subjects if rate is not None]

    @staticmethod
    def _counters(key: bytes, subjects: list[tuple[str, Rate, str]],
                  now: datetime) -> list[Counter]:
        return [counter(kind, subject_hash(key, kind, value), rate, now)
                for kind, rate, value in subjects]

    def _refuse_if_full(self, counters: list[Counter], now: datetime,
                        seen: Mapping[str, int] | None = None) -> None:
        if seen is not None and all(c.doc_id in seen for c in counters):
            counts: Mapping[str, int] = seen
        else:
            counts = self._store.counts(counters)
        full = first_exhausted(dict(counts), counters)
        if full is not None:
            raise rate_limited(full, now)


def card_reader(gateway: Callable[[], Any]) -> Callable[[str], CardTokenSnapshot]:
    """Reads a token's card through Mercado Pago, mapping failures to the API's codes (a read
    never leaves an outcome unknown: nothing was charged)."""
    from shared.adapters.mercadopago.errors import (
        ProviderAuthFailed,
        ProviderError,
        ProviderUnavailable,
    )
    from shared.domain.errors import (
        PaymentRequestRejected,
        ProviderCredentialsRefused,
        ProviderUnreachable,
    )
    from shared.platform.secrets import SecretError

    def read(token: str) -> CardTokenSnapshot:
        try:
            return gateway().get_card_token(token)  # type: ignore[no-any-return]
        except SecretError as exc:
            log.error("secret_missing", "MP_ACCESS_TOKEN unavailable; refusing to charge")
            raise NotConfigured("the payment provider is not configured") from exc
        except ProviderUnavailable as exc:
            log.warning("provider_unreachable", "Mercado Pago could not be reached",
                        provider_status=exc.status)
            raise ProviderUnreachable("the payment provider could not be reached; "
                                      "retry") from exc
        except ProviderAuthFailed as exc:
            log.error("provider_auth_failed", "Mercado Pago refused our credentials",
                      provider_status=exc.status)
            raise ProviderCredentialsRefused(
                "the payment provider refused our credentials") from exc
        except ProviderError as exc:
            raise PaymentRequestRejected("the card token is unknown or expired",
                                         detail={"provider_causes": []}) from exc

    return read
