"""``shared.domain.records.record`` behaves as ``dataclasses.dataclass`` does, without compiling
code per class."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from collections.abc import Callable
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any, ClassVar, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.records import record


# Each shape twice: a dataclass and a record. Module level, so they pickle.
@dataclass(frozen=True)
class DPoint:
    """A documented point."""

    x: int
    y: str = "y"
    tags: dict[str, int] = field(default_factory=dict, compare=False)
    kind: ClassVar[str] = "point"

    def norm(self) -> int:
        return abs(self.x)


@record(frozen=True)
class RPoint:
    """A documented point."""

    x: int
    y: str = "y"
    tags: dict[str, int] = field(default_factory=dict, compare=False)
    kind: ClassVar[str] = "point"

    def norm(self) -> int:
        return abs(self.x)


@dataclass(frozen=True)
class DBare:
    a: int
    b: tuple[int, ...] = ()
    hidden: str = field(default="h", repr=False)
    nohash: int = field(default=0, hash=False)


@record(frozen=True)
class RBare:
    a: int
    b: tuple[int, ...] = ()
    hidden: str = field(default="h", repr=False)
    nohash: int = field(default=0, hash=False)


@dataclass
class DMutable:
    n: int
    items: list[int] = field(default_factory=list)


@record
class RMutable:
    n: int
    items: list[int] = field(default_factory=list)


@dataclass(frozen=True, eq=False)
class DNoEq:
    a: int
    b: int = 2


@record(frozen=True, eq=False)
class RNoEq:
    a: int
    b: int = 2


@dataclass(frozen=True)
class DEmpty:
    pass


@record(frozen=True)
class REmpty:
    pass


@dataclass(frozen=True)
class DOne:
    only: int


@record(frozen=True)
class ROne:
    only: int


@dataclass(frozen=True)
class DOwnHash:
    a: int

    def __hash__(self) -> int:
        return 7


@record(frozen=True)
class ROwnHash:
    a: int

    def __hash__(self) -> int:
        return 7


PAIRS: list[tuple[type, type]] = [(DPoint, RPoint), (DBare, RBare), (DMutable, RMutable),
                                  (DNoEq, RNoEq), (DEmpty, REmpty), (DOne, ROne),
                                  (DOwnHash, ROwnHash)]


def _outcome(make: Any) -> tuple[str, Any]:
    try:
        obj = make()
    except TypeError as exc:
        return "TypeError", str(exc).split("__init__() ", 1)[-1]
    return "ok", _observe(obj)


def _try(action: Any) -> tuple[str, Any]:
    try:
        return "ok", action()
    except TypeError as exc:
        return "TypeError", str(exc)


def _observe(obj: Any) -> dict[str, Any]:
    cls = type(obj)
    twin = copy.copy(obj)
    seen: dict[str, Any] = {
        "repr": repr(obj).split("(", 1)[1],
        "fields": [(f.name, f.default, f.compare, f.repr, f.hash) for f in dataclasses.fields(obj)],
        "asdict": dataclasses.asdict(obj),
        "astuple": dataclasses.astuple(obj),
        "eq_copy": obj == twin,
        "eq_other_type": obj == object(),
        "match_args": cls.__match_args__,
        "hash_is_none": cls.__hash__ is None,
        "pickled_eq": pickle.loads(pickle.dumps(obj)) == obj,
        "replaced": repr(dataclasses.replace(obj)).split("(", 1)[1],
        "params": (cls.__dataclass_params__.init, cls.__dataclass_params__.repr,
                   cls.__dataclass_params__.eq, cls.__dataclass_params__.frozen),
        "doc": (cls.__doc__ or "").replace(cls.__name__, "C", 1),
        "signature": str(inspect.signature(cls)),
    }
    if cls.__hash__ is not None:
        seen["hash_equal_to_copy"] = _try(lambda: hash(obj) == hash(twin))
        seen["hash"] = _try(lambda: hash(obj)) if "__eq__" in cls.__dict__ else None
    if dataclasses.fields(obj):
        name = dataclasses.fields(obj)[0].name
        actions: list[Callable[[], None]] = [lambda: setattr(obj, name, 1),
                                             lambda: delattr(obj, name),
                                             lambda: setattr(obj, "other", 1)]
        for action in actions:
            try:
                action()
                seen.setdefault("writes", []).append("ok")
            except FrozenInstanceError as exc:
                seen.setdefault("writes", []).append(f"frozen: {exc}")
            except AttributeError as exc:  # deleting twice on a mutable one
                seen.setdefault("writes", []).append(f"AttributeError: {exc}")
    return seen


CALLS: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
    ((), {}), ((1,), {}), ((1, "a"), {}), ((), {"x": 1}), ((), {"a": 1}), ((), {"n": 1}),
    ((1,), {"x": 2}), ((1,), {"a": 2}), ((), {"only": 3}), ((3,), {}), ((), {"nope": 1}),
    ((1, 2, 3, 4, 5, 6), {}), ((1,), {"b": (1, 2), "hidden": "z", "nohash": 4}),
    ((1, "a", {"k": 1}), {}), ((), {"x": 1, "y": "b", "tags": {"t": 2}}), ((5, [1]), {}),
    ((), {"n": 1, "items": [2, 3]}), ((1,), {"y": "q", "nope": 2}),
]


@pytest.mark.parametrize(("dclass", "rclass"), PAIRS, ids=[r.__name__ for _, r in PAIRS])
@pytest.mark.parametrize(("args", "kwargs"), CALLS)
def test_a_record_behaves_as_its_dataclass(dclass: type, rclass: type, args: tuple[Any, ...],
                                           kwargs: dict[str, Any]) -> None:
    expected = _outcome(lambda: dclass(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
    got = _outcome(lambda: rclass(*copy.deepcopy(args), **copy.deepcopy(kwargs)))
    assert got == expected


@given(x=st.integers(), y=st.text(max_size=5), tags=st.dictionaries(st.text(max_size=3),
                                                                    st.integers(), max_size=2),
       x2=st.integers(), y2=st.text(max_size=5))
def test_equality_and_hash_follow_the_compared_fields(x: int, y: str, tags: dict[str, int],
                                                      x2: int, y2: str) -> None:
    d1, d2 = DPoint(x, y, tags), DPoint(x2, y2)
    r1, r2 = RPoint(x, y, tags), RPoint(x2, y2)
    assert (r1 == r2) == (d1 == d2)
    assert hash(r1) == hash(d1) and hash(r2) == hash(d2)
    assert repr(r1).replace("RPoint", "DPoint") == repr(d1)
    match r1:
        case RPoint(a, b):
            assert (a, b) == (x, y)
    assert cast(object, r1) != d1 and r1.norm() == d1.norm()


def test_defaults_are_shared_and_factories_called_per_instance() -> None:
    first, second = RPoint(1), RPoint(2)
    assert first.tags == {} and first.tags is not second.tags
    assert RMutable(1).items is not RMutable(1).items


def test_a_subclass_may_add_attributes_but_not_change_fields() -> None:
    class Sub(RPoint):
        pass

    sub = Sub(1)
    sub.extra = 2  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        sub.x = 3  # type: ignore[misc]
    assert sub != RPoint(1)
    assert repr(sub).endswith("<locals>.Sub(x=1, y='y', tags={})")


def test_recursive_repr_does_not_loop() -> None:
    holder = RMutable(1)
    holder.items.append(holder)  # type: ignore[arg-type]
    assert repr(holder) == "RMutable(n=1, items=[...])"


@pytest.mark.parametrize("body", [
    "def __post_init__(self) -> None: ...",
    "__slots__ = ('b',)",
])
def test_what_a_record_does_not_do_is_refused(body: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"class C:\n    a: int = 0\n    {body}\n", namespace)  # noqa: S102 - a test's class
    with pytest.raises(TypeError, match="dataclasses.dataclass"):
        record(frozen=True)(namespace["C"])


def test_a_record_refuses_other_fields_and_dataclass_bases() -> None:
    class NoInit:
        a: int = field(default=0, init=False)

    class KwOnly:
        a: int = field(default=0, kw_only=True)

    with pytest.raises(TypeError, match="only plain init fields"):
        record(frozen=True)(NoInit)
    with pytest.raises(TypeError, match="only plain init fields"):
        record(frozen=True)(KwOnly)
    class WithInitVar:
        seed: dataclasses.InitVar[int]
        a: int = 0

    with pytest.raises(TypeError, match="InitVar"):
        record(frozen=True)(WithInitVar)
    with pytest.raises(TypeError, match="inherits a dataclass"):
        record(frozen=True)(type("Child", (DPoint,), {"__annotations__": {}}))


def test_a_record_class_is_built_without_compiling_code(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real_exec = exec

    def counting_exec(source: Any, *rest: Any) -> None:
        compiled.append(str(source)[:40])
        real_exec(source, *rest)

    monkeypatch.setattr("builtins.exec", counting_exec)

    @record(frozen=True)
    class Fresh:
        a: int
        b: str = ""

    assert compiled == []
    assert Fresh(1) == Fresh(1, "")

    @dataclass(frozen=True)
    class Generated:
        a: int

    assert compiled  # the check sees dataclass's generated code
