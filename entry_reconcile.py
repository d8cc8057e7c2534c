"""Deployed entry point for reconcile (GOOGLE_FUNCTION_SOURCE=entry_reconcile.py).

The buildpack starts functions-framework from the package root without PYTHONPATH, so a
nested functions/reconcile/main.py could not import `shared`. This file lives at the root and
re-exports the function; it loads only reconcile's own modules.
"""

from functions.reconcile.main import reconcile

__all__ = ["reconcile"]
