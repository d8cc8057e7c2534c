"""Mercado Pago's Webhooks topics: the names on the wire and the names inside the project, the
one place that maps them. Webhooks name a topic in ``type`` (query and body) with the dashboard's wire names;
inside the project (fulfil task bodies, dead letters, logs) a topic keeps its short name, so
task bodies and dead letters written before the mapping existed stay valid and replayable.

| wire ``type``              | project topic    | what ``data.id`` (query) names     |
|----------------------------|------------------|------------------------------------|
| ``payment``                | ``payment``      | the payment                        |
| ``topic_merchant_order_wh``| ``merchant_order``| the merchant order                |
| ``topic_chargebacks_wh``   | ``chargebacks``  | the chargeback (18 digits)         |
| ``stop_delivery_op_wh``    | ``fraud_alert``  | not documented: the body has no ``data.id`` |

Standard library only and no module-level work beyond these tables: fulfill and reconcile read
the topic names without loading the signature check (:mod:`shared.adapters.mercadopago.webhooks`).
"""

from __future__ import annotations

PAYMENT = "payment"
MERCHANT_ORDER = "merchant_order"
CHARGEBACKS = "chargebacks"
FRAUD_ALERT = "fraud_alert"

# Topics fulfil acts on (project names). Task bodies carry these, never the wire names.
PROJECT_TOPICS = frozenset({PAYMENT, MERCHANT_ORDER, CHARGEBACKS, FRAUD_ALERT})

_FROM_WIRE = {
    "payment": PAYMENT,
    "topic_merchant_order_wh": MERCHANT_ORDER,
    "topic_chargebacks_wh": CHARGEBACKS,
    "stop_delivery_op_wh": FRAUD_ALERT,
}
_TO_WIRE = {project: wire for wire, project in _FROM_WIRE.items()}

# Topics whose resource is named by the signed query ``data.id`` (required there).
RESOURCE_IN_QUERY = frozenset({PAYMENT, MERCHANT_ORDER, CHARGEBACKS})


def from_wire(wire_type: str) -> str | None:
    """The project topic for a Webhooks ``type``; None for topics this project ignores."""
    return _FROM_WIRE.get(wire_type)


def to_wire(topic: str) -> str:
    """The Webhooks ``type`` Mercado Pago uses for a project topic (for test tools)."""
    return _TO_WIRE.get(topic, topic)
