"""make dev relaxes the attempt limits, lets the caller's settings override them and prints
the values the functions get."""

from __future__ import annotations

from local.dev import limits_line, summary
from local.stack import LOCAL_LIMITS, StackOptions, StackPorts, function_env, stack_urls
from shared.platform.config import Settings


def test_make_dev_relaxes_the_limits_and_the_caller_overrides_them() -> None:
    ports = StackPorts.from_env({})
    relaxed = function_env(ports, StackOptions(base_env={}))
    assert {k: relaxed[k] for k in LOCAL_LIMITS} == LOCAL_LIMITS
    assert relaxed["RATE_LIMIT_KEY"].startswith("local-fake")
    settings = Settings.from_env(relaxed)
    assert settings.rate_limit_card is not None and settings.rate_limit_card.count > 1000

    given = function_env(ports, StackOptions(base_env={"RATE_LIMIT_CARD": "2/60",
                                                       "MAX_ATTEMPTS_PER_ORDER": "3"}))
    assert given["RATE_LIMIT_CARD"] == "2/60" and given["MAX_ATTEMPTS_PER_ORDER"] == "3"
    line = limits_line(given)
    assert "RATE_LIMIT_CARD=2/60" in line and "MAX_ATTEMPTS_PER_ORDER=3" in line
    assert f"RATE_LIMIT_IP={LOCAL_LIMITS['RATE_LIMIT_IP']}" in line
    assert line in summary(stack_urls(ports), line)
