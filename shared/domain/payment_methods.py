"""Which payment methods exist, and where they can be used (pure, no I/O).

A country-specific method only works in its country's currency; cards and Checkout Pro work
with any. ``MP_COUNTRY`` (optional) pins the deployment to one country: an order in another
currency is refused.
"""

from __future__ import annotations

CARD = "card"
PIX = "pix"
TICKET = "ticket"
BANK_TRANSFER = "bank_transfer"
CHECKOUT_PRO = "checkout_pro"
METHODS = (CARD, PIX, TICKET, BANK_TRANSFER, CHECKOUT_PRO)

TICKET_METHOD_IDS = ("bolbradesco", "oxxo", "paycash", "rapipago", "pagofacil")
TRANSFER_METHOD_IDS = ("clabe",)

# Mercado Pago's payment_method_id → the only currency it settles in.
METHOD_CURRENCY = {
    "pix": "BRL", "bolbradesco": "BRL",
    "oxxo": "MXN", "paycash": "MXN", "clabe": "MXN",
    "rapipago": "ARS", "pagofacil": "ARS",
}
COUNTRY_CURRENCY = {"BR": "BRL", "MX": "MXN", "AR": "ARS", "CL": "CLP", "CO": "COP",
                    "PE": "PEN", "UY": "UYU"}
# Boleto needs the payer's name, document and address (Mercado Pago refuses it otherwise).
BOLETO_ADDRESS_FIELDS = ("zip_code", "street_name", "street_number", "neighborhood", "city",
                         "federal_unit")


def availability_error(payment_method_id: str, currency: str, country: str) -> str | None:
    """Why this method cannot pay an order in ``currency`` here, or None when it can."""
    if country:
        expected = COUNTRY_CURRENCY.get(country.upper())
        if expected and expected != currency:
            return f"this shop takes {expected} ({country.upper()}), the order is in {currency}"
    required = METHOD_CURRENCY.get(payment_method_id)
    if required and required != currency:
        return f"{payment_method_id} is only available for {required} orders"
    return None
