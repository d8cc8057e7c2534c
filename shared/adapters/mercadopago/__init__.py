"""The one boundary to Mercado Pago: HTTP client, API calls, response models, status mapping.

Everything else in the product speaks in :mod:`shared.adapters.mercadopago.models` types and the
errors of :mod:`shared.adapters.mercadopago.errors`; only :mod:`shared.adapters.mercadopago.gateway` imports
the official SDK. The Orders API (``/v1/orders``) slots in as another gateway method set
returning the same models.
"""
