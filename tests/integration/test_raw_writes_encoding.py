"""store.writes.RawBatch builds the very bytes the client's WriteBatch builds.

For generated documents, field maps (dotted paths included), transforms and preconditions,
each write staged on a ``RawBatch`` serialises (deterministically) byte for byte as the
client's ``WriteBatch`` write for the same call, and both raise the same error for a call the
client refuses. No network: the client is only used to build references and batches.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from google.api_core.datetime_helpers import DatetimeWithNanoseconds
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.protobuf import timestamp_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.adapters.store.writes import RawBatch

CLIENT = firestore.Client(project="p", credentials=AnonymousCredentials())
REF = CLIENT.collection("orders").document("o-1")

keys = st.text(min_size=1, max_size=6).filter(lambda k: "." not in k and "`" not in k)
plain_keys = st.sampled_from(["a", "b", "status", "x_1", "history", "amount"])
zones = st.sampled_from([datetime.UTC, datetime.timezone(datetime.timedelta(hours=-3)),
                         datetime.timezone(datetime.timedelta(hours=5, minutes=30))])
datetimes = st.one_of(
    st.datetimes(timezones=zones),
    st.datetimes(min_value=datetime.datetime(1970, 1, 1), timezones=st.none()),
    st.builds(lambda d: DatetimeWithNanoseconds.from_timestamp_pb(
        timestamp_pb2.Timestamp(seconds=d, nanos=123456789)),
        st.integers(min_value=0, max_value=2**33)),
)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False), st.text(max_size=8), st.binary(max_size=8), datetimes)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(keys, inner, max_size=3)),
    max_leaves=12)
transforms = st.one_of(
    st.builds(firestore.ArrayUnion, st.lists(values, min_size=1, max_size=3)),
    st.builds(firestore.ArrayRemove, st.lists(values, min_size=1, max_size=3)),
    st.builds(firestore.Increment, st.one_of(st.integers(-5, 5), st.floats(-5, 5))),
    st.builds(firestore.Maximum, st.integers(-5, 5)),
    st.builds(firestore.Minimum, st.floats(-5, 5)),
    st.just(firestore.SERVER_TIMESTAMP))
documents = st.dictionaries(keys, st.one_of(values, values, transforms), max_size=5)
update_keys = st.one_of(plain_keys, st.builds(lambda a, b: f"{a}.{b}", plain_keys, plain_keys))
field_maps = st.dictionaries(
    update_keys, st.one_of(values, transforms, st.just(firestore.DELETE_FIELD)),
    min_size=1, max_size=5)
stamps = st.builds(lambda s, n: DatetimeWithNanoseconds.from_timestamp_pb(
    timestamp_pb2.Timestamp(seconds=s, nanos=n)),
    st.integers(0, 2**33), st.integers(0, 999_999_999))
options = st.one_of(st.none(), st.builds(lambda s: CLIENT.write_option(last_update_time=s),
                                         stamps))


def _same(stage: Any) -> None:
    """``stage(batch)`` on both batches: the same bytes, or the same error."""
    theirs, ours = CLIENT.batch(), RawBatch(CLIENT)
    try:
        stage(theirs)
    # whatever the client raises for input it refuses (ValueError, TypeError; AttributeError
    # for conflicting paths such as "a": None with "a.a"): the raw batch raises the same
    except Exception as exc:
        with pytest.raises(type(exc)):
            stage(ours)
        return
    stage(ours)
    expected = [w._pb.SerializeToString(deterministic=True) for w in theirs._write_pbs]
    got = [w.SerializeToString(deterministic=True) for w in ours._write_pbs]
    assert got == expected


FAST = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(documents)
def test_create(data: dict[str, Any]) -> None:
    _same(lambda b: b.create(REF, data))


@FAST
@given(documents, st.booleans())
def test_set_and_set_merge(data: dict[str, Any], merge: bool) -> None:
    _same(lambda b: b.set(REF, data, merge=merge))


@FAST
@given(field_maps, options)
def test_update(fields: dict[str, Any], option: Any) -> None:
    _same(lambda b: b.update(REF, fields, option=option))


@FAST
@given(options)
def test_delete(option: Any) -> None:
    _same(lambda b: b.delete(REF, option=option))


def test_the_store_shapes() -> None:
    """The writes the store makes, spelt out: counter set(merge) with Increment, create,
    update with ArrayUnion / ArrayRemove / DELETE_FIELD and a last-update precondition."""
    now = datetime.datetime(2026, 12, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)
    stamp = DatetimeWithNanoseconds.from_timestamp_pb(timestamp_pb2.Timestamp(seconds=5, nanos=7))

    def stage(b: Any) -> None:
        b.set(REF, {"kind": "ip", "count": firestore.Increment(1), "expires_at": now},
              merge=True)
        b.create(REF, {"order_id": "o-1", "items": [{"q": 1, "price": "10.00"}], "at": now,
                       "meta": {"n": None, "b": b"x", "ok": True, "f": 1.5}})
        b.update(REF, {"status": "paid", "checkout.state": "done",
                       "history": firestore.ArrayUnion([{"status": "paid", "at": now}]),
                       "unsent": firestore.ArrayRemove(["e1"]),
                       "expires_at": firestore.DELETE_FIELD},
                 option=CLIENT.write_option(last_update_time=stamp))
        b.update(REF, {"attempt_keys": firestore.ArrayUnion(["k"])})
        b.delete(REF, option=CLIENT.write_option(last_update_time=stamp))
        b.delete(REF)

    _same(stage)
