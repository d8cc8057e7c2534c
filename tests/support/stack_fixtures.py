"""Pytest fixtures: the local stack and the Firestore emulator on free ports.

Enable them in a conftest with ``pytest_plugins = ["tests.support.stack_fixtures"]`` (or
import the fixtures you need into a test module).

- ``firestore_emulator`` (session): only the Firestore emulator, for store integration tests.
- ``firestore_project`` (function): a fresh project id on that emulator, with
  ``FIRESTORE_EMULATOR_HOST`` and ``GOOGLE_CLOUD_PROJECT`` set for the test, wiped afterwards.
- ``clean_firestore`` (function): wipes the default test project before the test.
- ``local_stack`` (session): the whole stack (emulators, simulator, the functions) on
  free ports with short delays (``E2E_OPTIONS``; override the ``stack_options`` fixture to
  change them, e.g. ``function_env``), seeded with the demo catalog.
- ``stack`` (function): ``local_stack``, checked alive before each test (a service that died
  in an earlier test fails the next one with its log tail, instead of a confusing timeout).
- ``fresh_stack_data`` (function): wipes the stack's Firestore and re-seeds the catalog.
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
from local.seed import seed
from local.stack import (
    HOST,
    PROJECT_ID,
    LocalStack,
    StackOptions,
    StackPorts,
    start_stack,
)
from local.supervisor import Stack

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
        from google.cloud import firestore

        previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
        os.environ["FIRESTORE_EMULATOR_HOST"] = self.host
        try:
            return firestore.Client(project=project)
        finally:
            if previous is None:
                os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
            else:
                os.environ["FIRESTORE_EMULATOR_HOST"] = previous


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


@pytest.fixture
def clean_firestore(
    firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> FirestoreEmulator:
    """Wipes ``demo-mp-local`` on the emulator and points the environment at it."""
    firestore_emulator.wipe(PROJECT_ID)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT_ID)
    return firestore_emulator


@pytest.fixture(scope="session")
def stack_options() -> StackOptions:
    """Options of ``local_stack``; override this fixture in a conftest to change them."""
    return E2E_OPTIONS


@pytest.fixture(scope="session")
def local_stack(
    stack_options: StackOptions, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalStack]:
    """The whole stack on free ports, seeded. Logs: ``<pytest tmp>/stack*/<service>.log``."""
    stack = start_stack(StackPorts.free(), stack_options, run_dir=_run_dir(tmp_path_factory, "stack"))
    try:
        seed(stack.project, stack.endpoints.firestore_host)
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def stack(local_stack: LocalStack) -> LocalStack:
    local_stack.check_alive()
    return local_stack


@pytest.fixture
def fresh_stack_data(stack: LocalStack) -> LocalStack:
    wipe_and_seed(stack)
    return stack


def wipe_and_seed(stack: LocalStack) -> None:
    """Delete every document of the stack's project, then seed the demo catalog again."""
    wipe(stack.project, stack.endpoints.firestore_host)
    seed(stack.project, stack.endpoints.firestore_host)
