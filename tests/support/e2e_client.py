"""Helpers that drive the running stack the way its real callers do."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests

from local.stack import MP_ACCESS_TOKEN, MP_PUBLIC_KEY, MP_WEBHOOK_SECRET, LocalStack
from shared.adapters.mercadopago import webhooks
from tests.support.firestore import emulator_client
from tests.support.quiet import wait_quiet
from tests.support.waiting import wait_until

CARD = {"card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123"}
PAYER = {"email": "buyer@example.com", "identification": {"type": "CPF", "number": "12345678909"}}


class StackClient:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.urls = stack.endpoints
        self.http = requests.Session()
        self._db: Any = None

    # -- Mercado Pago side ---------------------------------------------------------------
    def card_token(self, holder: str = "APRO") -> str:
        r = self.http.post(f"{self.urls.simulator}/v1/card_tokens",
                           params={"public_key": MP_PUBLIC_KEY},
                           json={**CARD, "cardholder": {"name": holder, "identification": {
                               "type": "CPF", "number": "12345678909"}}}, timeout=5)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def sim(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.http.request(method, f"{self.urls.simulator}{path}", timeout=10, **kwargs)
        assert r.status_code < 300, r.text
        return r.json()

    def sim_payments_for(self, order_id: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.urls.simulator}/v1/payments/search",
                          params={"external_reference": order_id},
                          headers={"Authorization": f"Bearer {MP_ACCESS_TOKEN}"}, timeout=5)
        assert r.status_code == 200, r.text
        return list(r.json()["results"])

    def fault(self, **rule: Any) -> None:
        self.sim("POST", "/_sim/faults", json=rule)

    def clear_faults(self) -> None:
        self.sim("DELETE", "/_sim/faults")

    # -- create_payment ------------------------------------------------------------------
    def body(self, token: str, items: list[dict[str, Any]] | None = None,
             order_id: str | None = None) -> dict[str, Any]:
        b: dict[str, Any] = {"payer": PAYER, "payment": {
            "method": "card", "token": token, "payment_method_id": "master", "installments": 1}}
        if order_id:
            b["order_id"] = order_id
        else:
            b["items"] = items or [{"product_id": "demo-product", "quantity": 2}]
        return b

    def pay(self, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
            holder: str = "APRO") -> requests.Response:
        return self.http.post(self.urls.create_payment + "/",
                              json=body if body is not None else self.body(self.card_token(holder)),
                              headers=headers or {}, timeout=15)

    def order(self, order_id: str) -> dict[str, Any]:
        r = self.http.get(f"{self.urls.create_payment}/orders/{order_id}", timeout=10)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait_order(self, order_id: str, status: str, timeout: float = 20) -> dict[str, Any]:
        seen: list[str] = []

        def reached() -> dict[str, Any] | None:
            order = self.order(order_id)
            seen.append(str(order.get("status")))
            return order if order["status"] == status else None

        try:
            return wait_until(reached, timeout, f"order {order_id} to be {status}")
        except AssertionError:
            raise AssertionError(f"order {order_id} stayed {seen[-1] if seen else None}, "
                                 f"wanted {status}") from None

    # -- Firestore -----------------------------------------------------------------------
    def db(self) -> Any:
        if self._db is None:
            self._db = emulator_client(self.urls.firestore_host, self.stack.project)
        return self._db

    def docs(self, collection: str) -> list[dict[str, Any]]:
        return [d.to_dict() | {"_id": d.id} for d in self.db().collection(collection).stream()]

    def hook_calls(self, order_id: str) -> list[dict[str, Any]]:
        """The runs of the test fulfilment hook (tests.support.hooks) for this order."""
        return [h for h in self.docs("test_hook_calls") if h["order_id"] == order_id]

    def wait_for(self, predicate: Any, timeout: float = 20, what: str = "condition") -> Any:
        return wait_until(predicate, timeout, what)

    def wait_quiet(self, timeout: float = 20) -> None:
        """Wait until the simulator and the task queues have nothing left to do (before
        asserting that something did not happen)."""
        wait_quiet(self.stack, timeout)

    # -- Cloud Tasks emulator ------------------------------------------------------------
    def tasks_view(self) -> dict[str, Any]:
        r = self.http.get(f"{self.urls.tasks_http}/_emulator/tasks", timeout=5)
        assert r.status_code == 200
        return dict(r.json())

    # -- ipn_webhook ---------------------------------------------------------------------
    def notify(self, payment_id: str, *, action: str = "payment.updated",
               notification_id: int | None = None, topic: str = "payment",
               secret: str = MP_WEBHOOK_SECRET, request_id: str | None = None,
               ts: int | None = None, headers: dict[str, str] | None = None,
               sign: bool = True) -> requests.Response:
        request_id = request_id or str(uuid.uuid4())
        ts = ts if ts is not None else int(time.time())
        body = json.dumps({"id": notification_id or int(time.time() * 1000),
                           "live_mode": False, "type": topic, "action": action,
                           "api_version": "v1", "user_id": 1, "date_created": "2026-01-01",
                           "data": {"id": payment_id}})
        h = {"Content-Type": "application/json", "x-request-id": request_id}
        if sign:
            v1 = webhooks.sign(secret, payment_id.lower(), request_id, str(ts))
            h["x-signature"] = f"ts={ts},v1={v1}"
        h.update(headers or {})
        return self.http.post(self.urls.ipn_webhook + "/",
                              params={"data.id": payment_id, "type": topic},
                              data=body, headers=h, timeout=10)


def mpctl(stack: LocalStack, *args: str, timeout: float = 60,
          without: tuple[str, ...] = (), env: dict[str, str] | None = None) -> tuple[int, Any, str]:
    """Run the installed ``mpctl`` against this stack; returns (exit code, JSON or text, stderr).
    ``without``: environment variables the operator's shell does not have; ``env``: extra ones."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "mpctl"
    full = {**os.environ, **stack.function_env, **(env or {})}
    done = subprocess.run([str(script), *args], env={k: v for k, v in full.items()
                                                     if k not in without},
                          capture_output=True, text=True,
                          timeout=timeout, check=False)
    try:
        out: Any = json.loads(done.stdout) if done.stdout.strip() else None
    except ValueError:
        out = done.stdout
    return done.returncode, out, done.stderr
