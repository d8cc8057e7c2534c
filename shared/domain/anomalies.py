"""Payments that need an operator: the order-id form and orphan payments.

An *orphan payment* is a Mercado Pago payment whose ``external_reference`` has this project's
order-id form (``ord_`` + 24 url-safe characters, see ``shared.usecases.checkout.new_order_id``) but
names no order. create_payment writes the order before it calls Mercado Pago, so an orphan
means money arrived for an order this database never had or lost: it is recorded in
``anomalies/orphan_payment-{payment_id}``, logged at ``ALERT`` once, listed by
``mpctl anomalies list`` and, when approved, refunded with ``mpctl refund-payment``.
Payments of the same account from other sales channels (another ``external_reference`` form,
or none) are not this project's business.
"""

from __future__ import annotations

import re

ORDER_ID_FORM = re.compile(r"ord_[A-Za-z0-9_-]{24}")
ORPHAN_PAYMENT = "orphan_payment"


def is_order_id(reference: str) -> bool:
    """True when ``reference`` has exactly the form of an order id this project creates."""
    return ORDER_ID_FORM.fullmatch(reference) is not None


def orphan_id(payment_id: str) -> str:
    return f"{ORPHAN_PAYMENT}-{payment_id}"
