"""The one boundary to Mercado Pago: HTTP client, API calls, response models, status mapping.

Everything else in the product speaks in :mod:`shared.mercadopago.models` types and the
errors of :mod:`shared.mercadopago.errors`; only :mod:`shared.mercadopago.gateway` imports
the official SDK. The Orders API (``/v1/orders``) slots in as another gateway method set
returning the same models.
"""
