"""Injected faults for API requests: error status, latency, a hang ("timeout"), counted or not.

A rule matches by method and path prefix (``/_sim/`` control paths never match). ``phase``
``before`` (default) acts before the request is handled (an error status means nothing
happened); ``after`` handles the request first and then delays and/or replaces the answer,
which simulates "the payment was created but the answer was lost".
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any

PHASES = ("before", "after")


@dataclass
class FaultRule:
    id: int
    status: int | None = None
    latency_ms: float = 0.0
    timeout_s: float = 0.0
    count: int | None = None  # remaining matches; None = until cleared
    path_prefix: str = "/v1/"
    method: str | None = None
    phase: str = "before"

    def matches(self, method: str, path: str, phase: str) -> bool:
        return (
            phase == self.phase
            and path.startswith(self.path_prefix)
            and (self.method is None or self.method == method.upper())
            and (self.count is None or self.count > 0)
        )

    def delay_seconds(self) -> float:
        return self.latency_ms / 1000.0 + self.timeout_s

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _number(body: dict[str, Any], key: str) -> float:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{key} must be a number >= 0")
    return float(value)


def parse_rule(rule_id: int, body: dict[str, Any]) -> FaultRule:
    status = body.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599
    ):
        raise ValueError("status must be an HTTP error status (400-599)")
    count = body.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError("count must be an integer >= 1")
    prefix = body.get("path_prefix", "/v1/")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise ValueError("path_prefix must start with /")
    method = body.get("method")
    if method is not None and not isinstance(method, str):
        raise ValueError("method must be a string")
    phase = body.get("phase", "before")
    if phase not in PHASES:
        raise ValueError("phase must be 'before' or 'after'")
    rule = FaultRule(
        id=rule_id,
        status=status,
        latency_ms=_number(body, "latency_ms"),
        timeout_s=_number(body, "timeout_s"),
        count=count,
        path_prefix=prefix,
        method=method.upper() if method else None,
        phase=phase,
    )
    if rule.status is None and rule.delay_seconds() == 0:
        raise ValueError("a fault needs status, latency_ms or timeout_s")
    return rule


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add(self, body: dict[str, Any]) -> FaultRule:
        rule = parse_rule(next(self._ids), body)
        with self._lock:
            self._rules.append(rule)
        return rule

    def rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.to_json() for r in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str, phase: str) -> FaultRule | None:
        """The first matching rule, its count used up by one (spent rules are removed)."""
        if path.startswith("/_sim/"):
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, phase):
                    if rule.count is not None:
                        rule.count -= 1
                        if rule.count == 0:
                            self._rules.remove(rule)
                    return FaultRule(**asdict(rule))
        return None
