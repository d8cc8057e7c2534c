"""Headless Chromium (Debian's package) driven by Playwright, for the checkout page tests.

Never ``playwright install``: browser downloads are unreachable here, and Debian's Chromium is
what the tests run. A missing browser fails the tests with the packages to install (``make
test`` installs them when it runs as root); it never skips them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.stack import REPO_ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
PACKAGES = "chromium fonts-liberation"
SCREENSHOTS = REPO_ROOT / ".local-run" / "screenshots"


def require_chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install it with "
                    f"`apt-get update && apt-get install -y {PACKAGES}` (make test does this "
                    "when run as root), or set CHROMIUM_PATH", pytrace=False)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    executable = require_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: run make venv", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 720, "height": 1000}, locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    try:
        yield pg
    finally:
        context.close()


def screenshot(page: Any, flow: str) -> Path:
    """One PNG per flow, kept as a test artefact under .local-run/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{flow}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
