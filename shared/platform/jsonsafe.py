"""Parsing untrusted JSON bodies without a 500 on any input.

``json.loads`` alone lets two kinds of body through to later code that then fails:
nesting deep enough to raise ``RecursionError`` (in the parser or in any recursive walk after
it), and lone surrogates (``"\\ud800"``), which are valid JSON escapes but cannot be encoded
as UTF-8 (Firestore, gRPC and log writers raise ``UnicodeEncodeError``). Both are refused here
as malformed. Standard library only: ipn_webhook imports it.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class MalformedJson(ValueError):
    """The body is not JSON this project accepts (syntax, depth or encoding)."""


def _too_deep(raw: bytes, limit: int) -> bool:
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets: the usual, cheap answer
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # raises UnicodeEncodeError on a lone surrogate
        elif isinstance(item, dict):
            for key, child in item.items():
                key.encode("utf-8")
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)


def loads(raw: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``raw``; raise :class:`MalformedJson` for anything the project must not accept."""
    if _too_deep(raw, max_depth):
        raise MalformedJson(f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedJson("the body is not valid JSON") from exc
    if _SURROGATE_ESCAPE.search(raw):
        try:
            _check_strings(value)
        except UnicodeEncodeError as exc:
            raise MalformedJson("the body holds a lone UTF-16 surrogate") from exc
    return value
