"""``GET /v1/payments/search``: filters, date range, sort and paging over payment documents."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import clock
from .errors import bad_request
from .store import Doc

RANGE_FIELDS = ("date_created", "date_last_updated", "date_approved", "money_release_date")
SORT_FIELDS = ("date_created", "date_last_updated", "date_approved", "money_release_date", "id",
               "transaction_amount", "status")
# exact-match filters (query parameter -> document path)
FILTERS = {
    "id": ("id",),
    "external_reference": ("external_reference",),
    "status": ("status",),
    "status_detail": ("status_detail",),
    "payment_method_id": ("payment_method_id",),
    "payment_type_id": ("payment_type_id",),
    "operation_type": ("operation_type",),
    "collector.id": ("collector_id",),
    "payer.id": ("payer", "id"),
}
MAX_LIMIT = 1000
DEFAULT_LIMIT = 30


def _lookup(doc: Doc, path: tuple[str, ...]) -> Any:
    value: Any = doc
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer", 400) from None
    return max(low, min(high, value))


def _date(params: Mapping[str, str], name: str) -> datetime | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return clock.parse_search_date(raw)
    except ValueError:
        raise bad_request(f"invalid {name}: {raw}", 400) from None


def _sort_key(field: str) -> Any:
    def key(doc: Doc) -> tuple[int, Any]:
        value = doc.get(field)
        if value is None:
            return (0, "")
        if field.startswith("date") or field == "money_release_date":
            return (1, clock.parse_iso(str(value)))
        return (1, value)

    return key


def search(docs: list[Doc], params: Mapping[str, str]) -> dict[str, Any]:
    # Mercado Pago's default range is date_created: a caller that means date_last_updated must
    # say so (reconcile does).
    range_field = params.get("range") or "date_created"
    if range_field not in RANGE_FIELDS:
        raise bad_request(f"invalid range: {range_field}", 400)
    begin, end = _date(params, "begin_date"), _date(params, "end_date")
    sort = params.get("sort") or "date_created"
    if sort not in SORT_FIELDS:
        raise bad_request(f"invalid sort: {sort}", 400)
    criteria = (params.get("criteria") or "desc").lower()
    if criteria not in ("asc", "desc"):
        raise bad_request("criteria must be asc or desc", 400)
    limit = _int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(params, "offset", 0, 0, 10_000_000)

    selected = []
    for doc in docs:
        if any(
            name in params and str(_lookup(doc, path)) != params[name]
            for name, path in FILTERS.items()
        ):
            continue
        if begin is not None or end is not None:
            stamp = doc.get(range_field)
            if stamp is None:
                continue
            moment = clock.parse_iso(str(stamp))
            if (begin is not None and moment < begin) or (end is not None and moment > end):
                continue
        selected.append(doc)
    selected.sort(key=_sort_key(sort), reverse=criteria == "desc")
    return {
        "paging": {"total": len(selected), "limit": limit, "offset": offset},
        "results": selected[offset : offset + limit],
    }
