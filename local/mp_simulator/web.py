"""Flask helpers shared by the API and control routes."""

from __future__ import annotations

from typing import Any, cast

from flask import Response, current_app, jsonify, request

from .errors import bad_request
from .simulator import Simulator

EXTENSION = "mp_simulator"


def sim() -> Simulator:
    return cast(Simulator, current_app.extensions[EXTENSION])


def base_url() -> str:
    """The simulator's URL as the caller reached it (for links in answers)."""
    return request.host_url.rstrip("/")


def json_body(default: Any = None) -> Any:
    """The request's JSON (content type not required); ``default`` when the body is empty."""
    if not request.get_data() and default is not None:
        return default
    body = request.get_json(force=True, silent=True)
    if body is None:
        raise bad_request("Invalid JSON body", "invalid_json")
    return body


def answer(doc: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(doc), status
