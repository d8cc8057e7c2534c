"""Conversions between float seconds and protobuf Timestamp / Duration messages."""

from __future__ import annotations

import datetime as dt
import math

from google.protobuf import duration_pb2, timestamp_pb2


def timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    """A Timestamp for a Unix time in float seconds (microsecond precision)."""
    whole = math.floor(seconds)
    micros = round((seconds - whole) * 1_000_000)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    return timestamp_pb2.Timestamp(seconds=whole, nanos=micros * 1000)


def duration(seconds: float) -> duration_pb2.Duration:
    """A Duration for float seconds (built directly: ``FromSeconds`` returns None)."""
    whole = math.floor(seconds)
    nanos = round((seconds - whole) * 1_000_000_000)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    return duration_pb2.Duration(seconds=whole, nanos=nanos)


def ts_seconds(value: timestamp_pb2.Timestamp) -> float:
    """Float Unix seconds of a Timestamp."""
    return float(value.seconds) + float(value.nanos) / 1e9


def dur_seconds(value: duration_pb2.Duration) -> float:
    """Float seconds of a Duration."""
    return float(value.seconds) + float(value.nanos) / 1e9


def iso(seconds: float) -> str:
    """RFC 3339 UTC text of a Unix time, for JSON views."""
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).isoformat().replace("+00:00", "Z")
