"""``record``: a dataclass whose methods are shared closures, not code compiled per class.

On Python 3.12 ``dataclasses.dataclass`` writes the source of each class's ``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` and compiles it with
``exec`` when the class is created: about 0.7 ms for a small frozen class and 8 ms for the
settings' 73 fields, most of a function's import time (docs/performance.md, "Import time of
the functions"). A record is the same dataclass (``dataclasses.fields``, ``replace``,
``asdict``, ``__match_args__``, ``FrozenInstanceError``, the same ``repr``, equality and hash)
whose methods are closures over the class's field names, built without compiling anything.

Supported: ``frozen`` and ``eq`` (the other ``dataclass`` options keep their defaults), fields
with a default or ``default_factory``, ``field(compare=..., repr=..., hash=...)``. A class that
needs more (``__post_init__``, ``InitVar``, ``kw_only``, ``slots``, ``order``, ``field(init=False)``,
a dataclass base) is refused with ``TypeError``: use ``dataclasses.dataclass`` for it.

Type checkers see ``dataclasses.dataclass`` itself (``TYPE_CHECKING``), so a record is typed
exactly as the dataclass it replaces; tests/unit/test_records.py checks that both behave alike.
"""

from __future__ import annotations

import dataclasses
import inspect
import operator
import reprlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

__all__ = ["record"]

C = TypeVar("C", bound=type)

_FACTORY = type("_Factory", (), {"__repr__": lambda self: "<factory>"})()  # as dataclass shows it
_REFUSED = ("__post_init__", "__slots__")


def _refuse(cls: type) -> None:
    for name in _REFUSED:
        if hasattr(cls, name):
            raise TypeError(f"record {cls.__name__} defines {name}: use dataclasses.dataclass")
    if any(dataclasses.is_dataclass(base) for base in cls.__mro__[1:]):
        raise TypeError(f"record {cls.__name__} inherits a dataclass: use dataclasses.dataclass")


def _check_fields(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> None:
    # fields() leaves ClassVars out; an InitVar is a pseudo-field it leaves out too
    every = getattr(cls, "__dataclass_fields__", {})
    if len(every) != len(fields) and any(
            type(f.type) is dataclasses.InitVar or str(f.type).startswith(("InitVar", "dataclasses.InitVar"))
            for f in every.values()):
        raise TypeError(f"record {cls.__name__} has an InitVar: use dataclasses.dataclass")
    for f in fields:
        if not f.init or f.kw_only is True:
            raise TypeError(f"record {cls.__name__}.{f.name}: only plain init fields")


def _set(cls: type, name: str, fn: Any) -> bool:
    """Attach ``fn`` unless the class body defines ``name`` (dataclass's rule); True if it did."""
    if name in cls.__dict__:
        return True
    if callable(fn) and hasattr(fn, "__qualname__"):
        fn.__qualname__ = f"{cls.__qualname__}.{name}"
    setattr(cls, name, fn)
    return False


def _check_keywords(cls: type, kwargs: dict[str, Any], known: frozenset[str],
                    positional: tuple[str, ...]) -> None:
    """Raise the TypeError Python raises for these keywords, if any (the first one wins)."""
    for name in kwargs:
        if name not in known:
            raise TypeError(f"{cls.__qualname__}.__init__() got an unexpected keyword "
                            f"argument {name!r}")
        if name in positional:
            raise TypeError(f"{cls.__qualname__}.__init__() got multiple values for "
                            f"argument {name!r}")


def _missing(names: list[str]) -> str:
    quoted = [repr(n) for n in names]
    listed = (quoted[0] if len(quoted) == 1 else " and ".join(quoted) if len(quoted) == 2
              else ", ".join(quoted[:-1]) + ", and " + quoted[-1])
    return (f"missing {len(names)} required positional argument"
            f"{'s' if len(names) > 1 else ''}: {listed}")


def _init(cls: type, fields: tuple[dataclasses.Field[Any], ...]) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    known = frozenset(names)
    count = len(names)
    defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
    factories = {f.name: f.default_factory for f in fields
                 if f.default_factory is not dataclasses.MISSING}
    required = tuple(n for n in names if n not in defaults and n not in factories)
    takes = (f"{count + 1} positional argument{'s' if count else ''}" if len(required) == count
             else f"from {len(required) + 1} to {count + 1} positional arguments")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) == count and not kwargs:  # every field, in order
            self.__dict__.update(zip(names, args, strict=True))
            return
        if args:
            if kwargs:
                _check_keywords(cls, kwargs, known, names[:len(args)])
            if len(args) > count:
                raise TypeError(f"{cls.__qualname__}.__init__() takes {takes} but "
                                f"{len(args) + 1} were given")
            values = dict(zip(names, args, strict=False))
            values.update(kwargs)
        else:
            if not kwargs.keys() <= known:
                _check_keywords(cls, kwargs, known, ())
            values = kwargs
        if len(values) != count:
            missing = [n for n in required if n not in values]
            if missing:
                raise TypeError(f"{cls.__qualname__}.__init__() {_missing(missing)}")
            values = {**defaults, **values}
            for name, factory in factories.items():
                if name not in values:
                    values[name] = factory()
        self.__dict__.update(values)

    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(
            f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=f.type,
            default=defaults.get(f.name, _FACTORY if f.name in factories
                                 else inspect.Parameter.empty))
           for f in fields],
        return_annotation=None)
    return __init__


def _tuple_of(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """``(obj.a, obj.b, ...)`` for ``names``, as dataclass's generated code builds it."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        get = operator.attrgetter(names[0])
        return lambda obj: (get(obj),)
    return operator.attrgetter(*names)


def _repr(names: tuple[str, ...]) -> Callable[[Any], str]:
    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{self.__class__.__qualname__}({shown})"

    return __repr__


def _eq(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any, Any], Any]:
    def __eq__(self: Any, other: Any) -> Any:
        if other.__class__ is self.__class__:
            return key(self) == key(other)
        return NotImplemented

    return __eq__


def _hash(key: Callable[[Any], tuple[Any, ...]]) -> Callable[[Any], int]:
    def __hash__(self: Any) -> int:
        return hash(key(self))

    return __hash__


def _frozen(cls: type, names: frozenset[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)  # type: ignore[arg-type]

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)  # type: ignore[arg-type]

    return __setattr__, __delattr__


def _text_signature(cls: type) -> str:
    """``str(inspect.signature(cls))``, read off the record's own ``__init__`` when it has one."""
    own: inspect.Signature | None = getattr(cls.__dict__.get("__init__"), "__signature__", None)
    if own is None:
        return str(inspect.signature(cls))
    return str(own.replace(parameters=list(own.parameters.values())[1:]))


def _build(cls: C, frozen: bool, eq: bool) -> C:
    _refuse(cls)
    class_hash = cls.__dict__.get("__hash__", dataclasses.MISSING)
    explicit_hash = not (class_hash is dataclasses.MISSING
                         or (class_hash is None and "__eq__" in cls.__dict__))
    documented = bool(cls.__dict__.get("__doc__"))
    if not documented:
        cls.__doc__ = "(set below)"  # dataclass would read a signature the record replaces
    # Only the bookkeeping (fields, __match_args__): no method is generated.
    dataclasses.dataclass(cls, init=False, repr=False, eq=False)
    fields = dataclasses.fields(cls)
    _check_fields(cls, fields)
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    params.init, params.repr, params.eq, params.frozen = True, True, eq, frozen
    _set(cls, "__init__", _init(cls, fields))
    _set(cls, "__repr__", _repr(tuple(f.name for f in fields if f.repr)))
    if eq:
        _set(cls, "__eq__", _eq(_tuple_of(tuple(f.name for f in fields if f.compare))))
    if frozen:
        for fn in _frozen(cls, frozenset(f.name for f in fields)):
            if _set(cls, fn.__name__, fn):
                raise TypeError(f"Cannot overwrite attribute {fn.__name__} in class "
                                f"{cls.__name__}")
    if eq and not explicit_hash:
        if frozen:
            hashed = tuple(f.name for f in fields if (f.compare if f.hash is None else f.hash))
            cls.__hash__ = _hash(_tuple_of(hashed))  # type: ignore[assignment]
            cls.__hash__.__qualname__ = f"{cls.__qualname__}.__hash__"
        else:
            cls.__hash__ = None  # type: ignore[assignment]
    if not documented:
        cls.__doc__ = cls.__name__ + _text_signature(cls).replace(" -> None", "")
    return cls


def _record(cls: C | None = None, /, *, frozen: bool = False,
            eq: bool = True) -> C | Callable[[C], C]:
    """``dataclasses.dataclass(cls, frozen=frozen, eq=eq)`` without per-class compiled code."""
    def wrap(c: C) -> C:
        return _build(c, frozen, eq)

    return wrap if cls is None else wrap(cls)


if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:
    record = _record
