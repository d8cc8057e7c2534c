"""Fixtures every test folder may use: the Firestore emulator, the browser; and a safety net
that gives every test the environment it started with."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.support.stack_fixtures", "tests.support.browser"]


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Whatever a test (or the code it runs in-process) does to ``os.environ`` is undone
    after it. Session fixtures are set up before this snapshot, so their settings stay."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)
