"""The browser side of Mercado Pago: the JS SDK stand-in and the device fingerprint script.

- ``GET /js/v2``: the subset of the JS SDK v2 a checkout page uses (``MercadoPago``, the
  ``cardPayment`` and ``statusScreen`` bricks), tokenizing at this simulator.
- ``GET /v2/security.js``: sets ``MP_DEVICE_SESSION_ID`` like Mercado Pago's script.
- CORS on ``/v1/card_tokens``: a browser's preflight and its POST get the headers the real
  API answers with (any origin; the public key is the credential).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, request

bp = Blueprint("mp_sdk", __name__)

PUBLIC_PREFIXES = ("/js/", "/v2/")
_STATIC = Path(__file__).resolve().parent / "static"
CORS_PATHS = ("/v1/card_tokens",)


def _script(name: str) -> Response:
    response = Response((_STATIC / name).read_text(encoding="utf-8"),
                        mimetype="application/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/js/v2")
def sdk_v2() -> Response:
    return _script("sdk_v2.js")


@bp.get("/v2/security.js")
def security_js() -> Response:
    return _script("security.js")


def is_cors_path(path: str) -> bool:
    return path.startswith(CORS_PATHS)


def preflight() -> Response:
    """``OPTIONS /v1/card_tokens``: 204 with the methods and the headers asked for."""
    response = Response(status=204)
    add_cors(response)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    asked = request.headers.get("Access-Control-Request-Headers", "")
    response.headers["Access-Control-Allow-Headers"] = asked or "Content-Type"
    response.headers["Access-Control-Max-Age"] = "86400"
    return response


def add_cors(response: Response) -> None:
    origin = request.headers.get("Origin")
    response.headers["Access-Control-Allow-Origin"] = origin or "*"
    if origin:
        response.headers.add("Vary", "Origin")
