"""What the benchmark needs from the running stack: an order, its payment, signed requests,
and control of the fulfil queue (through the real google-cloud-tasks client)."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import requests

from local.stack import MP_PUBLIC_KEY, MP_WEBHOOK_SECRET, LocalStack
from shared.adapters.mercadopago import webhooks

CARD = {"card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123",
        "cardholder": {"name": "APRO", "identification": {"type": "CPF", "number": "12345678909"}}}
PAYER = {"email": "buyer@example.com", "identification": {"type": "CPF", "number": "12345678909"}}


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only: never through a proxy from the environment
    return session


@dataclass(frozen=True)
class Order:
    order_id: str
    payment_id: str


def create_order(stack: LocalStack, settle_timeout: float = 15.0) -> Order:
    """Charge the demo product through the stack's create_payment; wait until it settles."""
    urls = stack.endpoints
    with _session() as http:
        r = http.post(f"{urls.simulator}/v1/card_tokens", params={"public_key": MP_PUBLIC_KEY},
                      json=CARD, timeout=10)
        if r.status_code != 201:
            raise RuntimeError(f"card token: HTTP {r.status_code} {r.text[:300]}")
        body = {"payer": PAYER, "items": [{"product_id": "demo-product", "quantity": 1}],
                "payment": {"method": "card", "token": r.json()["id"],
                            "payment_method_id": "master", "installments": 1}}
        r = http.post(urls.create_payment + "/", json=body, timeout=20)
        if r.status_code not in (200, 201):
            raise RuntimeError(f"create_payment: HTTP {r.status_code} {r.text[:300]}")
        created = r.json()
        order = Order(str(created["order_id"]), str(created["payment_id"]))
        # The simulator's webhook → ipn_webhook → fulfil task → fulfill marks the order paid;
        # let that finish so it does not run during the measurements.
        deadline = time.monotonic() + settle_timeout
        while time.monotonic() < deadline:
            view = http.get(f"{urls.create_payment}/orders/{order.order_id}", timeout=10)
            if view.status_code == 200 and view.json().get("status") != "pending":
                break
            time.sleep(0.1)
    return order


_counter = itertools.count(1)
_counter_lock = threading.Lock()


def fresh_number() -> int:
    """A notification id not used before (in this run, nor in an earlier one)."""
    with _counter_lock:
        n = next(_counter)
    return int(time.time() * 1000) * 100_000 + n


@dataclass(frozen=True)
class SignedNotification:
    path: str  # with the query
    body: bytes
    headers: dict[str, str]


def signed_notification(payment_id: str, number: int | None = None) -> SignedNotification:
    """A Mercado Pago ``payment.updated`` notification, signed as Mercado Pago would."""
    request_id = str(uuid.uuid4())
    ts = str(int(time.time()))
    body = json.dumps({"id": number if number is not None else fresh_number(),
                       "live_mode": False, "type": "payment", "action": "payment.updated",
                       "api_version": "v1", "user_id": 1, "date_created": "2026-01-01",
                       "data": {"id": payment_id}}).encode()
    v1 = webhooks.sign(MP_WEBHOOK_SECRET, payment_id.lower(), request_id, ts)
    query = urllib.parse.urlencode({"data.id": payment_id, "type": "payment"})
    return SignedNotification(
        path=f"/?{query}", body=body,
        headers={"Content-Type": "application/json", "x-request-id": request_id,
                 "x-signature": f"ts={ts},v1={v1}"})


def fulfil_task_body(payment_id: str) -> bytes:
    return json.dumps({"topic": "payment", "resource_id": payment_id,
                       "notification_id": uuid.uuid4().hex}).encode()


class FulfilQueue:
    """The emulator's fulfil queue, driven through the real client as shared/adapters/tasks.py builds it."""

    def __init__(self, stack: LocalStack) -> None:
        import grpc
        from google.cloud import tasks_v2
        from google.cloud.tasks_v2.services.cloud_tasks.transports import (
            CloudTasksGrpcTransport,
        )

        self._channel: Any = grpc.insecure_channel(stack.endpoints.tasks_grpc_host)
        self._client: Any = tasks_v2.CloudTasksClient(
            transport=CloudTasksGrpcTransport(channel=self._channel))
        self.name = (f"projects/{stack.project}/locations/{stack.options.location}"
                     f"/queues/{stack.options.fulfill_queue.split(':', 1)[0].strip()}")

    def pause(self) -> None:
        self._client.pause_queue(name=self.name, timeout=10)

    def purge(self) -> None:
        self._client.purge_queue(name=self.name, timeout=30)

    def resume(self) -> None:
        self._client.resume_queue(name=self.name, timeout=10)

    def state(self) -> str:
        return str(self._client.get_queue(name=self.name, timeout=10).state.name)

    def close(self) -> None:
        self._channel.close()
