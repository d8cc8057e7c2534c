"""A fulfilment hook used by the end-to-end tests: records each call in Firestore."""

from __future__ import annotations

import os
import uuid

from google.cloud import firestore

from shared.adapters.hooks import PaidOrder


def record_paid(order: PaidOrder) -> None:
    db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])
    db.collection("test_hook_calls").document(uuid.uuid4().hex).create({
        "order_id": order.order_id, "fulfilment_id": order.fulfilment_id,
        "payment_id": order.payment_id, "amount": str(order.amount)})
