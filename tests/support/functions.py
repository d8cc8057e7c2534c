"""The functions in-process (functions-framework's test client), for integration tests.

``function_client`` (fixture, enabled for every folder by ``tests/conftest.py``) builds a
test client of one function with exactly the given environment; ``reset_function_caches``
forgets what the functions cached from an earlier environment; ``closed_port`` is a port
nothing listens on (a service that is down).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_function_caches() -> None:
    """Every module-level cache the functions keep (``shared.wiring.reset``)."""
    from shared import wiring

    wiring.reset()


def app_client(monkeypatch: pytest.MonkeyPatch, name: str) -> object:
    """functions-framework's test client of function ``name`` (``entry_<name>.py``).

    ``create_app`` writes its target into ``os.environ``; ``monkeypatch`` records those
    variables first, so the end of the test removes them again."""
    from functions_framework import create_app

    for var in ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "FUNCTION_NAME"):
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:  # recorded as absent, and absent while the app is built
            monkeypatch.setenv(var, "")
            monkeypatch.delenv(var)
    return create_app(target=name, source=f"entry_{name}.py").test_client()


@pytest.fixture
def function_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Build a test client for a function with exactly the given environment."""

    def build(name: str, **env: str) -> object:
        for key in ["MP_ACCESS_TOKEN", "MP_WEBHOOK_SECRET", "MP_WEBHOOK_SECRET_FILE",
                    "MP_WEBHOOK_SECRET_SECRET", "MP_WEBHOOK_SECRET_PREVIOUS",
                    "FULFILL_AUTH_AUDIENCE", "MERCHANT_WEBHOOK_URL", "CLOUD_TASKS_EMULATOR_HOST",
                    "CALLER_AUTH"]:
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", env.pop("GOOGLE_CLOUD_PROJECT", "demo-mp-local"))
        if name in ("fulfill", "reconcile") and "CALLER_AUTH" not in env:
            # these tests are about what follows the caller check (tests/integration/
            # test_caller_auth_functions.py covers it): off, allowed only with the emulators
            env["CALLER_AUTH"] = "off"
            env.setdefault("CLOUD_TASKS_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
            if "FIRESTORE_EMULATOR_HOST" not in env and "FIRESTORE_EMULATOR_HOST" not in os.environ:
                env["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{closed_port()}"
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_function_caches()
        return app_client(monkeypatch, name)

    yield build
    reset_function_caches()
