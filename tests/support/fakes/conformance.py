"""The type checker's half of the contract: the adapters and the fakes satisfy the same ports
(``mypy`` checks this module; ``tests/integration/test_contracts_*.py`` check behaviour)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.adapters.mercadopago.gateway import MercadoPagoGateway
    from shared.adapters.store.catalog import Catalog
    from shared.adapters.store.checkout_io import CheckoutDocuments
    from shared.adapters.store.idempotency import IdempotencyStore
    from shared.adapters.store.ledger import Ledger
    from shared.adapters.store.operator_records import OperatorRecords
    from shared.adapters.store.orders import OrderRepository
    from shared.adapters.store.outbox import Outbox
    from shared.adapters.store.reconcile_store import ReconcileStore
    from shared.adapters.tasks import TaskQueue
    from shared.usecases import ports
    from shared.usecases.fraud_alerts import FraudAlerts
    from tests.support.fakes.catalog import FakeCatalog
    from tests.support.fakes.checkout_io import FakeCheckoutDocuments
    from tests.support.fakes.fraud_alerts import FakeFraudAlerts
    from tests.support.fakes.gateway import FakeGateway
    from tests.support.fakes.idempotency import FakeIdempotency
    from tests.support.fakes.ledger import FakeLedger
    from tests.support.fakes.operator_records import FakeOperatorRecords
    from tests.support.fakes.orders import FakeOrderStore
    from tests.support.fakes.outbox import FakeOutbox
    from tests.support.fakes.reconcile_store import FakeReconcileStore
    from tests.support.fakes.tasks import FakeTaskQueue


def order_stores(real: OrderRepository, fake: FakeOrderStore) -> list[ports.OrderStore]:
    return [real, fake]


def ledgers(real: Ledger, fake: FakeLedger) -> list[ports.Ledger]:
    return [real, fake]


def outboxes(real: Outbox, fake: FakeOutbox) -> list[ports.Outbox]:
    return [real, fake]


def task_queues(real: TaskQueue, fake: FakeTaskQueue) -> list[ports.TaskQueue]:
    return [real, fake]


def gateways(real: MercadoPagoGateway, fake: FakeGateway) -> list[ports.PaymentGateway]:
    return [real, fake]


def fraud_alert_stores(real: FraudAlerts, fake: FakeFraudAlerts) -> list[ports.FraudAlertStore]:
    return [real, fake]


def operator_records(real: OperatorRecords,
                     fake: FakeOperatorRecords) -> list[ports.OperatorRecords]:
    return [real, fake]


def reconcile_stores(real: ReconcileStore,
                     fake: FakeReconcileStore) -> list[ports.ReconcileStore]:
    return [real, fake]


def catalogs(real: Catalog, fake: FakeCatalog) -> list[ports.Catalog]:
    return [real, fake]


def idempotency_records(real: IdempotencyStore,
                        fake: FakeIdempotency) -> list[ports.IdempotencyRecords]:
    return [real, fake]


def checkout_documents(real: CheckoutDocuments,
                       fake: FakeCheckoutDocuments) -> list[ports.CheckoutDocuments]:
    return [real, fake]
