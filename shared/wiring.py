"""The composition root: the only place that builds the use cases and their clients.

Each builder imports its library only when called, so an entry point pays only for what its
own path uses (ipn_webhook never builds a gateway or a Firestore client). An entry point keeps
what it builds for the instance's life with :func:`per_instance`; :func:`reset` forgets every
module-level cache (settings, secrets, clients, certificates, hooks, those use cases), which is
what tests call after changing the environment.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from shared.platform import secrets
from shared.platform.config import settings
from shared.platform.secrets import reader

if TYPE_CHECKING:
    from shared.adapters.mercadopago.gateway import MercadoPagoGateway
    from shared.adapters.store.orders import OrderRepository
    from shared.adapters.tasks import TaskQueue
    from shared.usecases.checkout import Checkout
    from shared.usecases.fraud_alerts import FraudAlerts
    from shared.usecases.fulfilment import Fulfilment
    from shared.usecases.notifications import Intake
    from shared.usecases.operations import Operations
    from shared.usecases.reconcile import Reconciler

T = TypeVar("T")
_instance_caches: list[Callable[[], None]] = []
_instance_lock = threading.Lock()
# Modules holding clients or caches, each with a ``reset()``; cleared only once loaded (an
# entry point that never imported Firestore does not import it to forget its clients).
_RESETTABLE = (
    "shared.adapters.store.client",
    "shared.adapters.mercadopago.gateway",
    "shared.adapters.tasks",
    "shared.adapters.idtoken",
    "shared.adapters.hooks",
)


def per_instance(build: Callable[[], T]) -> Callable[[], T]:
    """``build`` run once per instance (until :func:`reset`): an entry point's use case."""
    cached = lru_cache(maxsize=1)(build)
    with _instance_lock:
        _instance_caches.append(cached.cache_clear)
    return cached


def warm_after_fork(*steps: Callable[[], object],
                    register: Callable[..., None] = os.register_at_fork) -> None:
    """Run ``steps`` on a background thread of every process forked from this one.

    functions-framework imports a function in gunicorn's master process, which then forks the
    worker that serves it, and a gRPC channel must not cross a fork: clients cannot be built
    at import. Each worker starts ``steps`` right after its fork instead, so the clients are
    built and their connections opened while the worker boots and its first request arrives
    (a cold start's first request otherwise pays for them). A step that fails is left to the
    request path, which builds what it needs itself and answers as it always did.
    """

    def start() -> None:
        threading.Thread(target=warm, args=(steps,), name="warm-up", daemon=True).start()

    register(after_in_child=start)


def warm(steps: Sequence[Callable[[], object]]) -> None:
    """Run each step once; a failure skips that step only."""
    for step in steps:
        try:
            step()
        except Exception:  # noqa: S112 - the request path reports it when it matters
            continue


WARM_CONNECT_SECONDS = 5.0


def firestore_connected() -> None:
    """The instance's Firestore client with its generated client built (about 15 ms of CPU
    on first use) and its channel connected (bounded wait)."""
    import grpc

    api = firestore_db()._firestore_api
    ready = grpc.channel_ready_future(api.transport.grpc_channel)
    try:
        ready.result(timeout=WARM_CONNECT_SECONDS)
    except grpc.FutureTimeoutError:
        ready.cancel()


def reset() -> None:
    """Forget every module-level cache: the next call reads the environment again."""
    settings.cache_clear()
    secrets.reset()
    with _instance_lock:
        clears = list(_instance_caches)
    for clear in clears:
        clear()
    for name in _RESETTABLE:
        module = sys.modules.get(name)
        if module is not None:
            module.reset()


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
    outside fulfill: fulfilments are left for fulfill to complete (and the shop's hooks are
    not even imported)."""
    from shared.adapters.store.orders import OrderRepository

    s = settings()
    has_effects = False
    if not defer_effects:
        from shared.adapters import hooks

        has_effects = bool(hooks.configured())
    return OrderRepository(firestore_db(), emit_events=bool(s.merchant_webhook_url),
                           has_effects=has_effects, defer_effects=defer_effects)


def checkout() -> Checkout:
    """create_payment's use case. It applies no payment itself: were it to, the fulfilment
    would be left to fulfill (``defer_effects``)."""
    from datetime import UTC, datetime

    from shared.adapters.store.catalog import Catalog
    from shared.adapters.store.checkout_io import CheckoutDocuments
    from shared.adapters.store.idempotency import IdempotencyStore
    from shared.adapters.store.limits import LimitStore
    from shared.usecases.attempt_limits import AttemptGuard, card_reader
    from shared.usecases.checkout import Checkout

    s = settings()
    db = firestore_db()

    def now() -> datetime:
        return datetime.now(UTC)

    guard = AttemptGuard(s, LimitStore(db), lambda: reader().get(s.rate_limit_key),
                         card_reader(mp_gateway), now)
    bot_check = None
    if s.recaptcha_site_key:
        from shared.adapters.botcheck import BotCheck, recaptcha_assessor

        bot_check = BotCheck(s, recaptcha_assessor(s)).verify
    return Checkout(s, order_repository(defer_effects=True),
                    IdempotencyStore(db, s.idempotency_ttl_seconds), Catalog(db), mp_gateway, now,
                    guard, bot_check,
                    documents=CheckoutDocuments(db, s.idempotency_ttl_seconds))


def intake() -> Intake:
    """ipn_webhook's use case: verify a notification, queue its fulfil task."""
    from shared.usecases.notifications import Intake

    return Intake(settings(), task_queue)


def fraud_alerts() -> FraudAlerts:
    from shared.usecases.fraud_alerts import FraudAlerts

    return FraudAlerts(firestore_db(), emit_events=bool(settings().merchant_webhook_url))


def fulfilment(handoff: bool = False) -> Fulfilment:
    """fulfill's use case (also what reconcile's tasks, replays and mpctl end up in).
    ``handoff``: a process other than fulfill, which hands events and effects to fulfill."""
    from shared.adapters.store.ledger import Ledger
    from shared.adapters.store.outbox import Outbox
    from shared.usecases.fulfilment import Fulfilment

    s = settings()
    db = firestore_db()
    return Fulfilment(s, order_repository(defer_effects=handoff),
                      Ledger(db, s.processed_ttl_days), mp_gateway, task_queue,
                      outbox=Outbox(db), handoff=handoff,
                      alerts=fraud_alerts())


def operations() -> Operations:
    """Operator actions (mpctl): transitions applied here are delivered by fulfill."""
    from shared.adapters.store.operator_records import OperatorRecords
    from shared.usecases.operations import Operations

    return Operations(order_repository(defer_effects=True), fulfilment(handoff=True),
                      mp_gateway, OperatorRecords(firestore_db()))


def reconciler() -> Reconciler:
    from shared.usecases.reconcile import Reconciler

    return Reconciler.on_firestore(settings(), firestore_db(), mp_gateway, task_queue)
