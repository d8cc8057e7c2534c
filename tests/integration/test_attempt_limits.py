"""The attempt limits counted in the Firestore emulator: caps that hold under concurrency,
429s with their codes, nothing written for a refused attempt, one commit per attempt."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.adapters.mercadopago.models import CardTokenSnapshot
from shared.adapters.store.limits import COUNTERS, SLOTS, LimitStore
from shared.domain.errors import DomainError
from shared.domain.limits import Rate
from shared.platform.config import Settings
from shared.platform.error_map import api_error
from shared.usecases.attempt_limits import Attempt, AttemptGuard

NOW = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)
OFF: dict[str, Any] = {"max_attempts_per_order": 0, "rate_limit_card": None,
                       "rate_limit_payer": None, "rate_limit_ip": None,
                       "rate_limit_orders_ip": None}


class CountingStore(LimitStore):
    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.commits = 0

    def commit(self, *args: Any, **kwargs: Any) -> bool:
        self.commits += 1
        return super().commit(*args, **kwargs)


@pytest.fixture
def db(firestore_project, firestore_emulator):
    return firestore_emulator.client(firestore_project)


def guard(db: Any, cards: list[str] | None = None, **limits: Any) -> tuple[AttemptGuard, CountingStore]:
    settings = replace(Settings(project="p"), **{**OFF, **limits})
    store = CountingStore(db)

    def card_of(token: str) -> CardTokenSnapshot:
        if cards is not None:
            cards.append(token)
        return CardTokenSnapshot("503143", "6351", 11, 2030)

    return AttemptGuard(settings, store, lambda: "test-only-key", card_of, lambda: NOW), store


def ids(db: Any, collection: str) -> list[str]:
    return sorted(d.id for d in db.collection(collection).stream())


def attempt(order: str = "ord_1", **kw: Any) -> Attempt:
    base: dict[str, Any] = {"order_id": order, "new_order": False, "client_ip": "203.0.113.9",
                            "payer_email": "buyer@example.com", "card_token": "tok",
                            "attempts_made": 1}
    return Attempt(**{**base, **kw})


def test_burst_on_one_order_never_exceeds_the_cap(db):
    g, _ = guard(db, max_attempts_per_order=5, rate_limit_ip=Rate(1000, 60))

    def one(i: int) -> str:
        try:
            g.admit(attempt(card_token=f"tok-{i}"))
            return "admitted"
        except DomainError as refusal:
            exc = api_error(refusal)
            assert exc.status == 429 and exc.code == "too_many_attempts"
            assert "Retry-After" not in exc.headers
            return exc.code

    with ThreadPoolExecutor(max_workers=40) as pool:
        outcomes = list(pool.map(one, range(40)))
    # the attempt that created the order was the first: four more
    assert outcomes.count("admitted") == 4
    assert outcomes.count("too_many_attempts") == 36
    assert ids(db, SLOTS) == [f"ord_1-{n}" for n in range(2, 6)]
    # the windowed counter counted only the admitted attempts: refused ones wrote nothing
    counts = [d.to_dict()["count"] for d in db.collection(COUNTERS).stream()]
    assert counts == [4]


def test_a_free_slot_is_claimed_whatever_the_recorded_attempts_say(db):
    """Racing attempts claim slots in random order: with slots 3, 4 and 5 taken and one of
    those attempts already recorded on the order, slot 2 is still free and admits one more."""
    for n in (3, 4, 5):
        db.collection(SLOTS).document(f"ord_1-{n}").create({"order_id": "ord_1", "at": NOW})
    g, _ = guard(db, max_attempts_per_order=5)
    g.admit(attempt(attempts_made=2))
    assert ids(db, SLOTS) == [f"ord_1-{n}" for n in range(2, 6)]
    with pytest.raises(DomainError) as refused:  # now the cap holds
        g.admit(attempt(attempts_made=2))
    assert api_error(refused.value).code == "too_many_attempts"


def test_an_order_at_its_cap_is_refused_before_anything_else(db):
    cards: list[str] = []
    g, store = guard(db, cards, max_attempts_per_order=3, rate_limit_card=Rate(5, 3600))
    with pytest.raises(DomainError) as refused:
        g.admit(attempt(attempts_made=3))
    assert api_error(refused.value).code == "too_many_attempts"
    assert cards == [] and store.commits == 0
    assert ids(db, SLOTS) == [] and ids(db, COUNTERS) == []


@pytest.mark.parametrize(("limit", "kw", "first"), [
    ("rate_limit_ip", {}, {}),
    ("rate_limit_payer", {"client_ip": "ip-{i}"}, {}),
    ("rate_limit_card", {"client_ip": "ip-{i}", "payer_email": "b{i}@example.com"}, {}),
    ("rate_limit_orders_ip", {"new_order": True, "payer_email": "b{i}@example.com"}, {}),
])
def test_each_windowed_limit_answers_rate_limited(db, limit, kw, first):
    g, _ = guard(db, **{limit: Rate(3, 600)})
    for i in range(3):
        g.admit(attempt(order=f"ord_{i}", **{k: v.format(i=i) if isinstance(v, str) else v
                                              for k, v in kw.items()}))
    before = {d.id: d.to_dict()["count"] for d in db.collection(COUNTERS).stream()}
    with pytest.raises(DomainError) as refused:
        g.admit(attempt(order="ord_9", **{k: v.format(i=9) if isinstance(v, str) else v
                                          for k, v in kw.items()}))
    exc = api_error(refused.value)
    assert (exc.status, exc.code) == (429, "rate_limited")
    # NOW is 30 s into its 600 s window
    assert exc.headers["Retry-After"] == "570" and exc.extra["retry_after"] == 570
    assert exc.body()["error"]["retry_after"] == 570
    after = {d.id: d.to_dict()["count"] for d in db.collection(COUNTERS).stream()}
    assert after == before  # the refused attempt counted nowhere


def test_counters_are_hashed_expire_and_cost_one_commit(db):
    g, store = guard(db, max_attempts_per_order=5, rate_limit_card=Rate(5, 3600),
                     rate_limit_payer=Rate(10, 3600), rate_limit_ip=Rate(100, 600))
    g.admit(attempt())
    assert store.commits == 1
    docs = {d.id: d.to_dict() for d in db.collection(COUNTERS).stream()}
    assert sorted(d["kind"] for d in docs.values()) == ["card", "ip", "payer"]
    text = repr(docs)
    for clear in ("503143", "6351", "buyer@example.com", "203.0.113.9"):
        assert clear not in text
    for doc in docs.values():
        assert doc["count"] == 1 and doc["expires_at"] > NOW


def test_off_limits_read_no_card_and_write_nothing(db):
    cards: list[str] = []
    g, store = guard(db, cards)
    g.admit(attempt())
    assert cards == [] and store.commits == 0 and ids(db, COUNTERS) == []


def test_missing_key_fails_closed(db):
    settings = replace(Settings(project="p"), **{**OFF, "rate_limit_ip": Rate(5, 60)})
    g = AttemptGuard(settings, LimitStore(db), lambda: None,
                     lambda t: CardTokenSnapshot("1", "2", 1, 2030), lambda: NOW)
    with pytest.raises(DomainError) as refused:
        g.admit(attempt())
    assert (api_error(refused.value).status, api_error(refused.value).code) == (503, "not_configured")
