"""The bare functions-framework function: what starting the framework alone costs."""

from __future__ import annotations

from typing import Any


def bare(request: Any) -> str:
    return "ok"
