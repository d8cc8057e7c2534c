"""Queue configuration: defaults, validation, and ``--queue NAME[:k=v,...]`` specs.

Unset retry fields get the service's defaults (100 attempts, 0.1 s to 3600 s backoff, 16
doublings, unlimited retry duration). ``max_concurrent_dispatches`` defaults to 10 here (the
service's default is 1000): it bounds the emulator's dispatch threads per queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from google.cloud import tasks_v2

from .retry import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_BACKOFF,
    DEFAULT_MAX_DOUBLINGS,
    DEFAULT_MIN_BACKOFF,
    RetryPolicy,
)
from .timeutil import dur_seconds, duration

DEFAULT_MAX_CONCURRENT_DISPATCHES = 10
DEFAULT_MAX_DISPATCHES_PER_SECOND = 500.0
DEFAULT_MAX_BURST_SIZE = 100

_FLOAT_KEYS = ("min_backoff", "max_backoff", "max_retry_duration")
_INT_KEYS = ("max_attempts", "max_doublings", "max_concurrent_dispatches")


class InvalidQueueConfig(ValueError):
    """Queue settings the real service would reject with INVALID_ARGUMENT."""


@dataclass(frozen=True)
class QueueSpec:
    """A queue to pre-create: its id and the settings given on the command line."""

    queue_id: str
    settings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> QueueSpec:
        """Parse ``NAME[:k=v,...]`` (keys: max_attempts, min_backoff, max_backoff,
        max_doublings, max_retry_duration, max_concurrent_dispatches; seconds as floats)."""
        queue_id, _, rest = text.partition(":")
        settings: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or key not in _FLOAT_KEYS + _INT_KEYS:
                raise InvalidQueueConfig(f"bad queue setting {item!r} in {text!r}")
            try:
                settings[key] = int(value) if key in _INT_KEYS else float(value)
            except ValueError as exc:
                raise InvalidQueueConfig(f"bad value for {key} in {text!r}") from exc
        return cls(queue_id=queue_id.strip(), settings=settings)

    def to_queue(self, name: str) -> tasks_v2.Queue:
        """The Queue message for this spec, under the full queue ``name``."""
        retry = tasks_v2.RetryConfig()
        s = self.settings
        if "max_attempts" in s:
            retry.max_attempts = int(s["max_attempts"])
        if "max_doublings" in s:
            retry.max_doublings = int(s["max_doublings"])
        for key in _FLOAT_KEYS:
            if key in s:
                setattr(retry, key, duration(s[key]))
        rate = tasks_v2.RateLimits()
        if "max_concurrent_dispatches" in s:
            rate.max_concurrent_dispatches = int(s["max_concurrent_dispatches"])
        return tasks_v2.Queue(name=name, retry_config=retry, rate_limits=rate)


def with_defaults(queue: tasks_v2.Queue) -> tasks_v2.Queue:
    """Validate ``queue`` and fill unset settings with defaults, in place; returns it."""
    pb = tasks_v2.Queue.pb(queue)
    retry = pb.retry_config
    if retry.max_attempts < -1:
        raise InvalidQueueConfig("max_attempts must be >= -1")
    if retry.max_attempts == 0:
        retry.max_attempts = DEFAULT_MAX_ATTEMPTS
    if retry.max_doublings < 0:
        raise InvalidQueueConfig("max_doublings must be >= 0")
    if retry.max_doublings == 0:
        retry.max_doublings = DEFAULT_MAX_DOUBLINGS
    if not retry.HasField("min_backoff"):
        retry.min_backoff.CopyFrom(duration(DEFAULT_MIN_BACKOFF))
    if not retry.HasField("max_backoff"):
        retry.max_backoff.CopyFrom(duration(DEFAULT_MAX_BACKOFF))
    for key in _FLOAT_KEYS:
        if retry.HasField(key) and dur_seconds(getattr(retry, key)) < 0:
            raise InvalidQueueConfig(f"{key} must be >= 0")
    if dur_seconds(retry.min_backoff) > dur_seconds(retry.max_backoff):
        raise InvalidQueueConfig("min_backoff must be <= max_backoff")
    rate = pb.rate_limits
    if rate.max_concurrent_dispatches < 0 or rate.max_concurrent_dispatches > 5000:
        raise InvalidQueueConfig("max_concurrent_dispatches must be in [1, 5000]")
    if rate.max_concurrent_dispatches == 0:
        rate.max_concurrent_dispatches = DEFAULT_MAX_CONCURRENT_DISPATCHES
    if rate.max_dispatches_per_second < 0 or rate.max_dispatches_per_second > 500:
        raise InvalidQueueConfig("max_dispatches_per_second must be in (0, 500]")
    if rate.max_dispatches_per_second == 0:
        rate.max_dispatches_per_second = DEFAULT_MAX_DISPATCHES_PER_SECOND
    rate.max_burst_size = DEFAULT_MAX_BURST_SIZE
    if pb.state == tasks_v2.Queue.State.STATE_UNSPECIFIED:
        pb.state = tasks_v2.Queue.State.RUNNING
    return queue


def retry_policy(queue: tasks_v2.Queue) -> RetryPolicy:
    """The effective RetryPolicy of a queue that went through ``with_defaults``."""
    retry = tasks_v2.Queue.pb(queue).retry_config
    return RetryPolicy(
        max_attempts=retry.max_attempts,
        min_backoff=dur_seconds(retry.min_backoff),
        max_backoff=dur_seconds(retry.max_backoff),
        max_doublings=retry.max_doublings,
        max_retry_duration=dur_seconds(retry.max_retry_duration),
    )


def max_concurrent(queue: tasks_v2.Queue) -> int:
    """How many of the queue's tasks may be in flight at once."""
    value = tasks_v2.Queue.pb(queue).rate_limits.max_concurrent_dispatches
    return value if value > 0 else DEFAULT_MAX_CONCURRENT_DISPATCHES
