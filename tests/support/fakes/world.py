"""A whole world of fakes on one ``Memory`` and the use cases wired onto it, for unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.platform.config import Settings
from shared.platform.secrets import SecretRef
from tests.support.fakes.fraud_alerts import FakeFraudAlerts
from tests.support.fakes.gateway import FakeGateway
from tests.support.fakes.ledger import FakeLedger
from tests.support.fakes.memory import Memory
from tests.support.fakes.operator_records import FakeOperatorRecords
from tests.support.fakes.orders import FakeOrderStore
from tests.support.fakes.outbox import FakeOutbox
from tests.support.fakes.tasks import FakeTaskQueue

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHOP_URL = "https://shop.example/events"
FULFILL_URL = "https://fulfill.example/"
ORDER = "ord_unit00000000000000000001"  # the form of an order id this project creates


def settings(**changes: Any) -> Settings:
    """Settings for unit tests: a fulfil URL, literal (obviously fake) secrets."""
    base = Settings(
        project="unit", fulfill_url=FULFILL_URL,
        tasks_service_account="tasks@unit.iam.gserviceaccount.com",
        mp_access_token=SecretRef("MP_ACCESS_TOKEN", literal="TEST-unit-access-token"),
        mp_webhook_secret=SecretRef("MP_WEBHOOK_SECRET", literal="unit-webhook-secret"),
        merchant_webhook_secret=SecretRef("MERCHANT_WEBHOOK_SECRET",
                                          literal="unit-merchant-secret"))
    return replace(base, **changes)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class World:
    memory: Memory = field(default_factory=Memory)
    clock: Clock = field(default_factory=Clock)
    gateway: FakeGateway = field(default_factory=FakeGateway)
    queue: FakeTaskQueue = field(default_factory=FakeTaskQueue)

    def __post_init__(self) -> None:
        self.ledger = FakeLedger(self.memory, 30)
        self.outbox = FakeOutbox(self.memory)
        self.records = FakeOperatorRecords(self.memory)
        self.alerts = FakeFraudAlerts(self.memory)
        self.orders = FakeOrderStore(self.memory)

    def store(self, **flags: Any) -> FakeOrderStore:
        self.orders = FakeOrderStore(self.memory, **flags)
        return self.orders

    def gateway_factory(self) -> Callable[[], FakeGateway]:
        return lambda: self.gateway

    def queue_factory(self) -> Callable[[], FakeTaskQueue]:
        return lambda: self.queue

    def order(self, order_id: str = ORDER, amount: str = "200.00",
              **fields: Any) -> dict[str, Any]:
        """A pending order, as create_payment's draft leaves it."""
        doc = {"order_id": order_id, "status": "pending", "amount": amount, "currency": "BRL",
               "items": [{"sku": "tee", "quantity": 1}], "created_at": self.clock.now,
               "updated_at": self.clock.now, "history": [], **fields}
        assert self.orders.create_draft(doc)
        return doc

    def pay(self, order_id: str = ORDER, amount: str = "200.00", status: str = "approved",
            detail: str = "accredited", **kwargs: Any) -> str:
        """A payment at (fake) Mercado Pago for the order; its id."""
        return self.gateway.add_payment(order_id, Decimal(amount), status, detail, **kwargs).id

    def fulfil_tasks(self) -> list[dict[str, Any]]:
        return [json.loads(t.body) for t in self.queue.on("fulfill")]
