"""The extension point where a shop plugs its own fulfilment code.

Set ``ORDER_PAID_HOOKS`` to a comma-separated list of ``package.module:function`` names. Each
function receives a :class:`PaidOrder` once the order is ``paid`` (ship the goods, grant
access...). A hook runs inside the fulfil task: if it raises, the task is retried and the hook
is called again with the same ``fulfilment_id``, so make it idempotent on that id. Once every
hook has returned, the fulfilment is marked done and they are never called again for that order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache

from shared.domain.records import record
from shared.platform.config import settings


@record(frozen=True)
class PaidOrder:
    fulfilment_id: str
    order_id: str
    payment_id: str
    amount: Decimal
    currency: str
    items: tuple[dict[str, object], ...]


Hook = Callable[[PaidOrder], None]


@lru_cache(maxsize=4)
def load(spec: str) -> tuple[Hook, ...]:
    hooks: list[Hook] = []
    for name in (s.strip() for s in spec.split(",")):
        if not name:
            continue
        module_name, _, attr = name.partition(":")
        function = getattr(importlib.import_module(module_name), attr)
        if not callable(function):
            raise TypeError(f"{name} is not callable")
        hooks.append(function)
    return tuple(hooks)


def configured(spec: str | None = None) -> tuple[Hook, ...]:
    """The hooks ``spec`` names (the process's ``ORDER_PAID_HOOKS`` when not given)."""
    return load(settings().order_paid_hooks if spec is None else spec)


def reset() -> None:
    """Forget the loaded hook lists (``shared.wiring.reset``)."""
    load.cache_clear()
