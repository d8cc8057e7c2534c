"""Id sources: large integer sequences (payments, notifications) and opaque token ids."""

from __future__ import annotations

import secrets
import threading


class IdSequence:
    """Thread-safe increasing integers from a random base, so ids look like real ones."""

    def __init__(self, low: int, high: int, step_max: int = 97) -> None:
        self._low, self._high, self._step_max = low, high, step_max
        self._lock = threading.Lock()
        self._next = self._base()

    def _base(self) -> int:
        return self._low + secrets.randbelow(self._high - self._low)

    def next(self) -> int:
        with self._lock:
            value = self._next
            self._next += 1 + secrets.randbelow(self._step_max)
            return value


def token_id() -> str:
    """32 hex characters, like a Mercado Pago card token."""
    return secrets.token_hex(16)
