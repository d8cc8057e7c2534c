"""Pytest fixtures shared across test folders: the Firestore emulator on a free port.

Enabled for every folder by ``tests/conftest.py`` (``pytest_plugins``).

- ``firestore_emulator`` (session): only the Firestore emulator, for store integration tests.
- ``firestore_project`` (function): a fresh project id on that emulator, with
  ``FIRESTORE_EMULATOR_HOST`` and ``GOOGLE_CLOUD_PROJECT`` set for the test, wiped afterwards.

``E2E_OPTIONS``: the short delays the end-to-end stack runs with (``tests/e2e/conftest.py``
starts it, with the ``live`` fixture).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.firestore_emulator import firestore_service, wipe
from local.processes import free_ports
from local.stack import HOST, PROJECT_ID, StackOptions
from local.supervisor import Stack
from tests.support.firestore import emulator_client

# Short delays for end-to-end tests: the Cloud Tasks emulator's clock runs 10x faster, the
# simulator settles pending payments after 0.3 s and retries webhooks after 0.2/0.5/1 s.
E2E_OPTIONS = StackOptions(
    time_scale=float(os.environ.get("E2E_TIME_SCALE", "0.1")),
    cont_delay=0.3,
    retry_delays=(0.2, 0.5, 1.0),
)


@dataclass(frozen=True)
class FirestoreEmulator:
    host: str  # "127.0.0.1:port", the FIRESTORE_EMULATOR_HOST value
    url: str
    stack: Stack

    def wipe(self, project: str = PROJECT_ID) -> None:
        wipe(project, self.host)

    def client(self, project: str = PROJECT_ID) -> Any:
        """A real ``google.cloud.firestore.Client`` on this emulator."""
        return emulator_client(self.host, project)


def _run_dir(factory: pytest.TempPathFactory, name: str) -> Path:
    return factory.mktemp(name, numbered=True)


@pytest.fixture(scope="session")
def firestore_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FirestoreEmulator]:
    port = free_ports(1)[0]
    stack = Stack([firestore_service(port)], _run_dir(tmp_path_factory, "firestore"))
    stack.start()
    try:
        yield FirestoreEmulator(host=f"{HOST}:{port}", url=f"http://{HOST}:{port}", stack=stack)
    finally:
        stack.stop()


@pytest.fixture
def firestore_project(
    firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A project id used by this test only; the environment points the client at it."""
    project = f"test-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", project)
    yield project
    firestore_emulator.wipe(project)
