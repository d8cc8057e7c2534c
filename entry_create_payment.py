"""Deployed entry point for create_payment (GOOGLE_FUNCTION_SOURCE=entry_create_payment.py).

The buildpack starts functions-framework from the package root without PYTHONPATH, so a
nested functions/create_payment/main.py could not import `shared`. This file lives at the root and
re-exports the function; it loads only create_payment's own modules.
"""

from functions.create_payment.main import create_payment
from shared.platform.http_context import json_framework_errors

json_framework_errors()  # runs inside functions-framework's create_app, once per app

__all__ = ["create_payment"]
