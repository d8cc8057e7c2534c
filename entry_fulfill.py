"""Deployed entry point for fulfill (GOOGLE_FUNCTION_SOURCE=entry_fulfill.py).

The buildpack starts functions-framework from the package root without PYTHONPATH, so a
nested functions/fulfill/main.py could not import `shared`. This file lives at the root and
re-exports the function; it loads only fulfill's own modules.
"""

from functions.fulfill.main import fulfill

__all__ = ["fulfill"]
