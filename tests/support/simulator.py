"""Driving the Mercado Pago simulator with the official SDK, and knowing when it is drained.

``SimulatorHttpClient`` is the SDK's own HTTP client aimed at the simulator (only the base
URL changes). ``delivered`` waits until the simulator has no notification delivery left
(queued, in flight or awaiting a retry) and returns what the receiver got by then.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import requests
from mercadopago.config import RequestOptions
from mercadopago.http import HttpClient

from tests.support.receiver import Received, Receiver
from tests.support.waiting import wait_until

MP_BASE = "https://api.mercadopago.com"
ACCESS_TOKEN = "TEST-test-access-token"
PUBLIC_KEY = "TEST-test-public-key"
SECRET = "test-webhook-secret"
NOTIFICATION_PATH = "/webhooks/mp?source_news=webhooks"


class SimulatorHttpClient(HttpClient):  # type: ignore[misc]
    """The SDK's own client, aimed at the simulator."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method, url, maxretries=None, retry_on=None, backoff_factor=None,  # type: ignore[no-untyped-def]
                **kwargs):
        if url.startswith(MP_BASE):
            url = self.base_url + url[len(MP_BASE) :]
        return super().request(
            method, url, maxretries=maxretries, retry_on=retry_on,
            backoff_factor=backoff_factor, **kwargs,
        )


def control(sim: Any, method: str, path: str, body: Any = None) -> Any:
    """A call to the simulator's ``/_sim`` control API (``sim``: anything with ``.url``)."""
    response = requests.request(method, sim.url + path, json=body, timeout=5)
    assert response.status_code < 300, response.text
    return response.json()


def card_token(sdk: Any, name: str = "APRO") -> str:
    result = sdk.card_token().create({
        "card_number": "5031433215406351",
        "expiration_month": 11,
        "expiration_year": datetime.now().year + 3,
        "security_code": "123",
        "cardholder": {"name": name, "identification": {"type": "CPF", "number": "12345678909"}},
    })
    assert result["status"] == 201, result
    return str(result["response"]["id"])


def pay(sdk: Any, token: str, key: str | None = None, notification_url: str | None = None,
        **extra: Any) -> Any:
    body = {
        "transaction_amount": 100.0,
        "token": token,
        "description": "Test order",
        "installments": 1,
        "payment_method_id": "master",
        "issuer_id": 24,
        "payer": {"email": "buyer@example.com",
                  "identification": {"type": "CPF", "number": "12345678909"}},
        "external_reference": "order-1",
        "statement_descriptor": "SHOP",
        "metadata": {"order_id": "order-1"},
        **extra,
    }
    if notification_url:
        body["notification_url"] = notification_url
    options = RequestOptions(custom_headers={"x-idempotency-key": key or uuid.uuid4().hex})
    return sdk.payment().create(body, options)


def pending_deliveries(simulator_url: str) -> int:
    """Notification deliveries the simulator has not finished (0: its log is complete)."""
    r = requests.get(simulator_url + "/_sim/notifications/log", timeout=5)
    r.raise_for_status()
    return int(r.json()["pending"])


def wait_drained(simulator_url: str, timeout: float = 10.0) -> None:
    """Wait until every notification the simulator sent has had its last attempt."""
    wait_until(lambda: pending_deliveries(simulator_url) == 0, timeout,
               "the simulator's notification deliveries to drain")


def delivered(sim: Any, receiver: Receiver, timeout: float = 10.0) -> list[Received]:
    """What ``receiver`` got, once the simulator has nothing left to deliver."""
    wait_drained(sim.url, timeout)
    return receiver.snapshot()
