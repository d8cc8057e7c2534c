"""Fixtures every test folder may use (the Firestore emulator, the functions in-process, the
browser), and a safety net that gives every test the environment it started with."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.support.stack_fixtures", "tests.support.functions",
                  "tests.support.browser"]


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Whatever a test (or the code it runs in-process) does to ``os.environ`` is undone
    after it. Session fixtures are set up before this snapshot, so their settings stay."""
    saved = _environment()
    yield
    now = _environment()
    if now != saved:
        for name in now.keys() - saved.keys():
            del os.environ[name]
        os.environ.update(saved)


def _environment() -> dict[str, str]:
    """``os.environ`` without the variable pytest itself keeps up to date per phase."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
