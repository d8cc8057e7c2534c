"""The pure part of the attempt limits: settings, keys, windows, the client address."""

from __future__ import annotations

from datetime import UTC, datetime

import flask
import pytest

from shared.domain.limits import (
    CARD,
    Rate,
    card_fingerprint,
    counter,
    first_exhausted,
    parse_rate,
    retry_after,
    subject_hash,
)
from shared.platform.config import ConfigError, Settings
from shared.platform.web import client_ip

ENV = {"GOOGLE_CLOUD_PROJECT": "p"}


def test_defaults_are_the_documented_table():
    s = Settings.from_env(ENV)
    assert s.max_attempts_per_order == 5
    assert s.rate_limit_card == Rate(5, 3600)
    assert s.rate_limit_payer == Rate(10, 3600)
    assert s.rate_limit_ip == Rate(100, 600)
    assert s.rate_limit_orders_ip == Rate(200, 600)
    assert s.client_ip_trusted_hops == 1


def test_zero_switches_a_limit_off():
    s = Settings.from_env({**ENV, "MAX_ATTEMPTS_PER_ORDER": "0", "RATE_LIMIT_CARD": "0",
                           "RATE_LIMIT_PAYER": "0", "RATE_LIMIT_IP": "0",
                           "RATE_LIMIT_ORDERS_IP": "0"})
    assert s.max_attempts_per_order == 0
    assert (s.rate_limit_card, s.rate_limit_payer, s.rate_limit_ip,
            s.rate_limit_orders_ip) == (None, None, None, None)


@pytest.mark.parametrize("raw", ["5", "5/", "/60", "a/b", "0/60", "5/0", "-1/60", "5/60/1"])
def test_malformed_rate_is_a_config_error(raw):
    with pytest.raises(ConfigError, match="RATE_LIMIT_IP"):
        Settings.from_env({**ENV, "RATE_LIMIT_IP": raw})


def test_parse_rate():
    assert parse_rate("X", " 7/30 ", "1/1") == Rate(7, 30)
    assert parse_rate("X", "", "1/1") == Rate(1, 1)


def test_windows_and_retry_after():
    rate = Rate(5, 600)
    now = datetime(2026, 1, 1, 0, 7, 30, tzinfo=UTC)  # 450 s into a 600 s window
    c = counter(CARD, "h", rate, now)
    assert c.window_start % 600 == 0
    assert retry_after(c, now) == 150
    later = counter(CARD, "h", rate, datetime(2026, 1, 1, 0, 10, 0, tzinfo=UTC))
    assert later.doc_id != c.doc_id  # keyed per window


def test_first_exhausted_picks_the_one_that_frees_last():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    short = counter("ip", "a", Rate(1, 60), now)
    long = counter("payer", "b", Rate(1, 3600), now)
    assert first_exhausted({short.doc_id: 1, long.doc_id: 1}, [short, long]) == long
    assert first_exhausted({short.doc_id: 1}, [short, long]) == short
    assert first_exhausted({}, [short, long]) is None


def test_card_key_is_a_keyed_hash_without_the_digits():
    fingerprint = card_fingerprint("503143", "6351", 11, 2030)
    one = subject_hash(b"key-one", CARD, fingerprint)
    assert "503143" not in one and "6351" not in one
    assert one == subject_hash(b"key-one", CARD, fingerprint)
    assert one != subject_hash(b"key-two", CARD, fingerprint)
    assert one != subject_hash(b"key-one", CARD, card_fingerprint("503143", "6351", 12, 2030))


@pytest.mark.parametrize(("header", "hops", "expected"), [
    ("203.0.113.9", 1, "203.0.113.9"),
    ("6.6.6.6, 203.0.113.9", 1, "203.0.113.9"),  # the client's own entry is not trusted
    ("6.6.6.6, 203.0.113.9, 34.1.2.3", 2, "203.0.113.9"),  # behind the load balancer
    ("203.0.113.9", 3, "198.51.100.7"),  # fewer entries than our hops: not ours, the peer
    (None, 1, "198.51.100.7"),  # no header: the peer
])
def test_client_ip(header, hops, expected):
    app = flask.Flask(__name__)
    headers = {"X-Forwarded-For": header} if header else {}
    with app.test_request_context("/", headers=headers,
                                  environ_base={"REMOTE_ADDR": "198.51.100.7"}):
        assert client_ip(flask.request, hops) == expected
