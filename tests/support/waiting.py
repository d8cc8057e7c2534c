"""The one polling helper of the test suites: wait for observable state, with a deadline.

Tests never sleep a fixed time to let something happen. They name what they wait for and
poll it; when "nothing more happens" is the point, they wait for a positive quiescence
signal (``tests.support.quiet``) and then assert.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_INTERVAL = 0.05


def wait_until(predicate: Callable[[], T], timeout: float = 10.0, what: str = "the condition",
               *, interval: float = POLL_INTERVAL,
               retry_on: tuple[type[BaseException], ...] = ()) -> T:
    """Call ``predicate`` until it returns a truthy value, and return that value.

    Raises AssertionError naming ``what`` (and the last value seen) when ``timeout`` seconds
    pass first. Exceptions of the types in ``retry_on`` count as "not yet" (the last one is
    chained to the AssertionError); any other exception propagates at once.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    error: BaseException | None = None
    while True:
        try:
            value = predicate()
        except retry_on as exc:
            error = exc
        else:
            if value:
                return value
            last, error = value, None
        if time.monotonic() >= deadline:
            seen = f"last error: {error!r}" if error is not None else f"last value: {last!r}"
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} ({seen})") \
                from error
        time.sleep(interval)
