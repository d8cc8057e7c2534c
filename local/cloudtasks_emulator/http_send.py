"""Sending one HTTP request to a task's target, with a timeout, and reading the answer."""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    """What the target answered (``status``), or why it did not (``error``)."""

    status: int | None
    error: str | None = None
    retry_after: str | None = None


def send(method: str, url: str, headers: dict[str, str], body: bytes, timeout: float) -> Answer:
    """Send the request; ``timeout`` bounds connecting and each wait for the target."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    try:
        conn.request(method, target, body=body if body else None, headers=headers)
        response = conn.getresponse()
        response.read()
        return Answer(status=response.status, retry_after=response.getheader("Retry-After"))
    except TimeoutError:
        return Answer(status=None, error=f"deadline exceeded: timed out after {timeout:g}s")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(status=None, error=f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
