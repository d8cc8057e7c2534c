"""Deployed entry point for ipn_webhook (GOOGLE_FUNCTION_SOURCE=entry_ipn_webhook.py).

The buildpack starts functions-framework from the package root without PYTHONPATH, so a
nested functions/ipn_webhook/main.py could not import `shared`. This file lives at the root and
re-exports the function; it loads only ipn_webhook's own modules.
"""

from functions.ipn_webhook.main import ipn_webhook
from shared.platform.http_context import json_framework_errors

json_framework_errors()  # runs inside functions-framework's create_app, once per app

__all__ = ["ipn_webhook"]
