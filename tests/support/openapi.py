"""Validates create_payment's answers against docs/openapi.yaml, so the document cannot drift.

``check_response(method, path, status, content_type, body)`` raises ``ContractViolation`` when
the status is not documented for the operation, the body is not JSON where JSON is
documented, or it does not match the documented schema (JSON Schema 2020-12, as OpenAPI 3.1).
Paths the document does not list answer 404 ``not_found``, methods it does not list 405.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from local.stack import REPO_ROOT

DOCUMENT = REPO_ROOT / "docs" / "openapi.yaml"


class ContractViolation(AssertionError):
    pass


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    import yaml

    loaded = yaml.safe_load(DOCUMENT.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(_escape(p) for p in parts)


def _resolve(pointer: str) -> Any:
    node: Any = document()
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _template(path: str) -> str | None:
    """The document's path template matching a concrete path (``/orders/x`` → ``/orders/{order_id}``)."""
    for template in document()["paths"]:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "/?$"
        if re.match(pattern, path):
            return str(template)
    return None


def _validate(pointer: str, body: Any) -> None:
    from jsonschema import Draft202012Validator

    schema = dict(document())  # refs ("#/components/...") resolve against the whole document
    schema["$ref"] = pointer
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(root)"
        raise ContractViolation(f"body does not match {pointer} at {where}: {first.message}")


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    method = method.lower()
    template = _template(path)
    if template is None:
        if status != 404:
            raise ContractViolation(f"{method.upper()} {path}: undocumented path answered {status}")
        return _check_json(_pointer("components", "schemas", "Error404"), content_type, body)
    operations = document()["paths"][template]
    if method == "head":
        method = "get"
    if method not in operations:
        if status != 405:
            raise ContractViolation(f"{method.upper()} {template}: undocumented method "
                                    f"answered {status}")
        return _check_json(_pointer("components", "schemas", "Error405"), content_type, body)
    responses = operations[method]["responses"]
    key = str(status)
    if key not in responses:
        raise ContractViolation(f"{method.upper()} {template}: status {status} is not documented "
                                f"(documented: {', '.join(responses)}); body {body[:300]!r}")
    response_pointer = _pointer("paths", template, method, "responses", key)
    response = responses[key]
    if "$ref" in response:
        response_pointer = response["$ref"]
        response = _resolve(response_pointer)
    content = response.get("content")
    if not content:
        return None
    if "application/json" not in content:
        raise ContractViolation(f"{template}: only JSON answers are documented")
    return _check_json(response_pointer + "/content/application~1json/schema", content_type, body)


def _check_json(pointer: str, content_type: str, body: bytes) -> None:
    if not content_type.startswith("application/json"):
        raise ContractViolation(f"expected application/json, got {content_type!r}")
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise ContractViolation(f"the body is not JSON: {body[:200]!r}") from exc
    _validate(pointer, parsed)


def documented_codes(status: int) -> set[str]:
    """Every error code the document lists for a status, over all its operations."""
    codes: set[str] = set()
    schemas = document()["components"]["schemas"]
    for name, schema in schemas.items():
        if name.endswith(str(status)) and not name.startswith("Webhook"):
            for part in schema.get("allOf", []):
                code = (part.get("properties", {}).get("error", {}).get("properties", {})
                        .get("code", {}))
                codes.update(code.get("enum", []))
    return codes
