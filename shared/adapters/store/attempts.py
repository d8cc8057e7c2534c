"""The Mercado Pago idempotency keys used for an order (``orders/{id}.attempt_keys``).

create_payment writes the first key with the draft order and adds a later one before charging
an existing order, so a retry of the same attempt is recognised even after the notification
made the order ``paid`` (see ``shared.usecases.checkout.is_retry_of``).
"""

from __future__ import annotations

from typing import Any

from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY


def remember_attempt(order_ref: Any, key: str) -> None:
    order_ref.update({"attempt_keys": firestore.ArrayUnion([key])},
                     retry=RETRY, timeout=CALL_TIMEOUT)
