"""ipn_webhook's floor: a bare function plus the client library it cannot do without."""

from __future__ import annotations

from typing import Any

from google.cloud import tasks_v2  # noqa: F401


def bare(request: Any) -> str:
    return "ok"
