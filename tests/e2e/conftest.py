"""The running stack for end-to-end tests, with a merchant-event receiver and a test hook."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from local.firestore_emulator import wipe
from local.seed import seed
from local.stack import LocalStack, StackPorts, start_stack
from tests.support.openapi import check_response
from tests.support.receiver import Receiver
from tests.support.stack_fixtures import E2E_OPTIONS


def seed_all(stack: LocalStack) -> None:
    seed(stack.project, stack.endpoints.firestore_host)  # the demo catalog, as make dev seeds it


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    r = Receiver("/events")
    yield r
    r.close()


@pytest.fixture(scope="session")
def e2e_stack(receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    options = dataclasses.replace(E2E_OPTIONS, function_env={
        "MERCHANT_WEBHOOK_URL": receiver.url,
        "ORDER_PAID_HOOKS": "tests.support.hooks:record_paid",
        "MP_TIMEOUT_SECONDS": "1.5",
        "UNKNOWN_PAYMENT_MAX_ATTEMPTS": "3",
        "LOG_LEVEL": "DEBUG",
    })
    stack = start_stack(StackPorts.free(), options,
                        run_dir=tmp_path_factory.mktemp("e2e-stack", numbered=True))
    try:
        seed_all(stack)
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session", autouse=True)
def create_payment_answers_match_the_contract(e2e_stack: LocalStack) -> Iterator[None]:
    """Every answer of create_payment that an e2e test receives is checked against
    docs/openapi.yaml (a violation fails the test that received it)."""
    from urllib.parse import urlsplit

    import requests

    base = e2e_stack.endpoints.create_payment
    original = requests.Session.send

    def send(self: requests.Session, request: requests.PreparedRequest,
             **kwargs: object) -> requests.Response:
        response = original(self, request, **kwargs)  # type: ignore[arg-type]
        url = str(request.url or "")
        if url == base or url.startswith(base + "/"):
            check_response(str(request.method), urlsplit(url).path or "/", response.status_code,
                           response.headers.get("Content-Type", ""), response.content)
        return response

    requests.Session.send = send  # type: ignore[method-assign]
    try:
        yield
    finally:
        requests.Session.send = original  # type: ignore[method-assign]


@pytest.fixture
def live(e2e_stack: LocalStack, receiver: Receiver) -> LocalStack:
    """The stack, alive, with empty Firestore (re-seeded), simulator and receiver reset."""
    import requests

    e2e_stack.check_alive()
    wipe(e2e_stack.project, e2e_stack.endpoints.firestore_host)
    seed_all(e2e_stack)
    requests.post(e2e_stack.endpoints.simulator + "/_sim/reset", timeout=5).raise_for_status()
    requests.post(e2e_stack.endpoints.tasks_http + "/_emulator/reset", timeout=5).raise_for_status()
    receiver.reset()
    return e2e_stack
