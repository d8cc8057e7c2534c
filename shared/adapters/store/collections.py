"""The order documents' collection names: one owner, importable without the order store (a
leaf module, so create_payment's opening commit names the orders collection without loading
``store.orders`` and everything it needs at import)."""

ORDERS = "orders"
PAYMENTS = "payments"
FULFILMENTS = "fulfilments"
