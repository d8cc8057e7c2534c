"""The instance's clients, built from its settings once: what the entry points share.

Each builder imports its library only when called, so an entry point pays only for what its
own path uses (ipn_webhook never builds a gateway or a Firestore client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.platform.config import settings
from shared.platform.secrets import reader

if TYPE_CHECKING:
    from shared.adapters.mercadopago.gateway import MercadoPagoGateway
    from shared.adapters.store.orders import OrderRepository
    from shared.adapters.tasks import TaskQueue
    from shared.usecases.fulfilment import Fulfilment
    from shared.usecases.operations import Operations
    from shared.usecases.reconcile import Reconciler


def mp_gateway() -> MercadoPagoGateway:
    """The Mercado Pago gateway for the current access token (read through the secret cache)."""
    from shared.adapters.mercadopago.gateway import gateway

    s = settings()
    return gateway(reader().require(s.mp_access_token), s.mp_api_base_url,
                   float(s.mp_timeout_seconds))


def task_queue() -> TaskQueue:
    from shared.adapters.tasks import task_queue as queue

    s = settings()
    return queue(s.project, s.tasks_location, s.cloud_tasks_emulator_host)


def firestore_db() -> Any:
    from shared.adapters.store.client import client

    s = settings()
    return client(s.project, s.firestore_database)


def order_repository(defer_effects: bool = False) -> OrderRepository:
    """Orders (every transition writes its event), fulfilment hooks if any. ``defer_effects``
    outside fulfill: fulfilments are left for fulfill to complete."""
    from shared.adapters import hooks
    from shared.adapters.store.orders import OrderRepository

    s = settings()
    return OrderRepository(firestore_db(), emit_events=bool(s.merchant_webhook_url),
                           has_effects=bool(hooks.configured()), defer_effects=defer_effects)


def fulfilment(handoff: bool = False) -> Fulfilment:
    """fulfill's use case (also what reconcile's tasks, replays and mpctl end up in).
    ``handoff``: a process other than fulfill, which hands events and effects to fulfill."""
    from shared.adapters.store.ledger import Ledger
    from shared.adapters.store.outbox import Outbox
    from shared.usecases.fraud_alerts import FraudAlerts
    from shared.usecases.fulfilment import Fulfilment

    s = settings()
    db = firestore_db()
    return Fulfilment(s, order_repository(defer_effects=handoff),
                      Ledger(db, s.processed_ttl_days), mp_gateway, task_queue,
                      outbox=Outbox(db), handoff=handoff,
                      alerts=FraudAlerts(db, emit_events=bool(s.merchant_webhook_url)))


def operations() -> Operations:
    """Operator actions (mpctl): transitions applied here are delivered by fulfill."""
    from shared.adapters.store.operator_records import OperatorRecords
    from shared.usecases.operations import Operations

    return Operations(order_repository(defer_effects=True), fulfilment(handoff=True),
                      mp_gateway, OperatorRecords(firestore_db()))


def reconciler() -> Reconciler:
    from shared.usecases.reconcile import Reconciler

    return Reconciler.on_firestore(settings(), firestore_db(), mp_gateway, task_queue)
