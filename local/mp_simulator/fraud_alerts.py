"""Fraud alerts (``stop_delivery_op_wh``), sent the way Mercado Pago's guide shows them.

The body names the payment in ``data.payment_id`` (and the merchant order in
``data.merchant_order``) and carries no ``data.id``; the guide does not say whether the URL
carries ``data.id``, so the simulator sends none by default (the signature then covers only
``x-request-id`` and ``ts``) and ``query_data_id=True`` adds the payment id there. Mercado Pago
never retries these notifications; neither does the simulator.
"""

from __future__ import annotations

from typing import Any

from .notifications import FRAUD_ALERT, Notifier
from .payments import Payments

SITES = {"BRL": "MLB", "MXN": "MLM", "ARS": "MLA", "CLP": "MLC", "COP": "MCO", "PEN": "MPE",
         "UYU": "MLU"}


def send(payments: Payments, notifier: Notifier, payment_id: int, query_data_id: bool = False,
         description: str = "Fraud alert") -> dict[str, Any]:
    payment = payments.get(payment_id)
    order_id = str((payment.get("order") or {}).get("id") or "")
    notification_id = notifier.notify(
        FRAUD_ALERT, "Created", str(payment["id"]) if query_data_id else None,
        payment.get("notification_url"),
        {"payment_id": payment["id"],
         "merchant_order": int(order_id) if order_id.isdigit() else None,
         "description": description,
         "site_id": SITES.get(str(payment.get("currency_id")), "")})
    return {"notification_id": notification_id, "payment_id": payment["id"]}
