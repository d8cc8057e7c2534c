"""Mercado Pago's ``x-signature``: ``ts=<unix s>,v1=<hex HMAC-SHA256 of the manifest>``."""

from __future__ import annotations

import hashlib
import hmac


def manifest(data_id: str | None, request_id: str | None, ts: str) -> str:
    """A part whose value is absent is left out (a fraud alert has no data.id)."""
    parts = [f"id:{data_id.lower()};"] if data_id else []
    if request_id:
        parts.append(f"request-id:{request_id};")
    parts.append(f"ts:{ts};")
    return "".join(parts)


def signature_header(secret: str, data_id: str | None, request_id: str, ts: int) -> str:
    text = manifest(data_id, request_id, str(ts))
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"
