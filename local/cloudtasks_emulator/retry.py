"""A queue's retry policy, as Cloud Tasks documents ``RetryConfig``.

* Backoff: the first retry waits ``min_backoff``; the interval doubles ``max_doublings``
  times, then grows linearly by ``min_backoff * 2**max_doublings`` per retry, and is capped
  at ``max_backoff``. (min 10 s, max 300 s, 3 doublings: 10, 20, 40, 80, 160, 240, 300, ...)
* Giving up: ``max_attempts`` counts attempts (-1 = unlimited); ``max_retry_duration`` (0 =
  unlimited) is measured from the first attempt. When both are limited, the task is dropped
  only once both are used up ("once max_retry_duration time has passed *and* the task has
  been attempted max_attempts times"); when only one is limited, that one decides.
* 429 / 503 answers with ``Retry-After`` wait at least that long.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, replace

DEFAULT_MAX_ATTEMPTS = 100
DEFAULT_MIN_BACKOFF = 0.1
DEFAULT_MAX_BACKOFF = 3600.0
DEFAULT_MAX_DOUBLINGS = 16


@dataclass(frozen=True)
class RetryPolicy:
    """Effective retry settings of a queue, seconds as floats."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    min_backoff: float = DEFAULT_MIN_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    max_doublings: int = DEFAULT_MAX_DOUBLINGS
    max_retry_duration: float = 0.0

    def scaled(self, factor: float) -> RetryPolicy:
        """The same policy on a clock running ``1/factor`` times faster (for ``--time-scale``)."""
        return replace(
            self,
            min_backoff=self.min_backoff * factor,
            max_backoff=self.max_backoff * factor,
            max_retry_duration=self.max_retry_duration * factor,
        )

    def backoff(self, retry_number: int) -> float:
        """Delay before retry number ``retry_number`` (1 = the retry after the first attempt)."""
        n = max(retry_number, 1) - 1
        if n <= self.max_doublings:
            delay = self.min_backoff * float(2**n)
        else:
            step = self.min_backoff * float(2**self.max_doublings)
            delay = step * (n - self.max_doublings + 1)
        return min(delay, self.max_backoff)

    def exhausted(self, attempts: int, age: float) -> bool:
        """Whether a task that failed ``attempts`` times, first tried ``age`` s ago, is done."""
        attempts_limited = self.max_attempts != -1
        age_limited = self.max_retry_duration > 0
        attempts_used = attempts_limited and attempts >= self.max_attempts
        age_used = age_limited and age >= self.max_retry_duration
        if attempts_limited and age_limited:
            return attempts_used and age_used
        return attempts_used or age_used


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)
