"""fulfill's floor: a bare function plus the client libraries it cannot do without."""

from __future__ import annotations

from typing import Any

import mercadopago  # noqa: F401
from google.cloud import firestore  # noqa: F401
from google.oauth2 import id_token  # noqa: F401


def bare(request: Any) -> str:
    return "ok"
