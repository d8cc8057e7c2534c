"""The ports the use cases depend on: what they need of storage, queues and Mercado Pago.

Structural types (:class:`typing.Protocol`): the Firestore, Cloud Tasks and SDK adapters
satisfy them without importing this module, and so do the in-memory fakes in
``tests/support/fakes`` (which ``tests/integration/test_contracts_*.py`` hold to the same
behaviour as the adapters). Types come in only for the type checker: importing this module
loads nothing else (cold start).

Errors are part of each contract: an order store raises ``OrderNotFound`` for an order it does
not have and ``Contention`` when it lost every optimistic retry; a gateway raises
``ResourceNotFound``, ``ProviderUnavailable``, ``ProviderRejected``; a queue raises
``EnqueueError`` and answers False for a task name it already holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from shared.adapters.mercadopago.models import (
        CardTokenSnapshot,
        ChargebackSnapshot,
        MerchantOrderSnapshot,
        PaymentSnapshot,
    )
    from shared.adapters.mercadopago.requests import (
        PaymentRequest,
        PreferenceCreated,
        PreferenceRequest,
        RefundResult,
    )
    from shared.adapters.store.catalog import Product
    from shared.adapters.store.checkout_io import Opening, ReadPlan, Seen
    from shared.adapters.store.idempotency import BeginResult
    from shared.adapters.store.ledger import Processed
    from shared.adapters.store.orders import ApplyResult
    from shared.adapters.tasks import HttpTask
    from shared.usecases.fraud_alerts import Recorded

Clock = Callable[[], datetime]


class FulfilmentMarkers(Protocol):
    """Read access to ``fulfilments/{order_id}`` (what hand-over needs)."""

    def fulfilment(self, order_id: str) -> dict[str, Any] | None: ...


class OrderStore(FulfilmentMarkers, Protocol):
    """Orders, their payments, fulfilment markers and the orphan payments kept for an operator
    (adapter: ``shared.adapters.store.orders.OrderRepository``)."""

    def get(self, order_id: str) -> dict[str, Any] | None: ...

    def create_draft(self, order: dict[str, Any]) -> bool: ...

    def delete_draft(self, order_id: str) -> None: ...

    def record_attempt(self, order_id: str, attempt: dict[str, Any], now: datetime,
                       idempotency: tuple[Any, dict[str, Any]] | None) -> None: ...

    def record_checkout(self, order_id: str, checkout: dict[str, Any], now: datetime,
                        idempotency: tuple[Any, dict[str, Any]] | None) -> None: ...

    def apply_payment(self, snap: PaymentSnapshot, now: datetime,
                      processed: Processed | None = None) -> ApplyResult: ...

    def cancel_unpaid(self, order_id: str, now: datetime) -> None: ...

    def claim_fulfilment(self, order_id: str, now: datetime) -> dict[str, Any] | None: ...

    def finish_fulfilment(self, order_id: str, now: datetime, effects: list[str]) -> None: ...

    def record_orphan(self, snap: PaymentSnapshot, now: datetime) -> bool: ...

    def remember_attempt_key(self, order_id: str, key: str) -> None: ...


class Ledger(Protocol):
    """Processed notification ids and dead letters (adapter: ``store.ledger.Ledger``).
    ``processed_record`` builds a record for another commit (``OrderStore.apply_payment``) to carry."""

    def processed_record(self, notification_id: str, fields: dict[str, Any],
                         now: datetime) -> Processed: ...

    def mark_processed(self, notification_id: str, fields: dict[str, Any],
                       now: datetime) -> None: ...

    def record_dead_letter(self, letter_id: str, reason: str, task: dict[str, Any],
                           attempts: int, now: datetime, detail: str = "") -> None: ...


class Outbox(Protocol):
    """Merchant events staged by transitions (adapter: ``store.outbox.Outbox``). ``pending``
    queries an order's unsent events; ``unsent`` reads those of the named ones still pending
    (the ids the order lists); ``mark_sent`` marks events handed over and takes them, and
    ``forget`` (listed ids already sent or gone), off the order's list, in one commit."""

    def pending(self, order_id: str) -> list[dict[str, Any]]: ...

    def unsent(self, event_ids: Sequence[str]) -> list[dict[str, Any]]: ...

    def mark_sent(self, order_id: str, event_ids: Sequence[str], now: datetime,
                  forget: Sequence[str] = ()) -> None: ...


class TaskQueue(Protocol):
    """Named HTTP tasks (adapter: ``shared.adapters.tasks.TaskQueue``): True if created,
    False if a task of that name exists; ``EnqueueError`` if it could not be created."""

    def enqueue(self, task: HttpTask) -> bool: ...


class PaymentGateway(Protocol):
    """Mercado Pago (adapter: ``mercadopago.gateway.MercadoPagoGateway``)."""

    def create_payment(self, request: PaymentRequest) -> PaymentSnapshot: ...

    def get_card_token(self, token_id: str) -> CardTokenSnapshot: ...

    def get_payment(self, payment_id: str) -> PaymentSnapshot: ...

    def search_payments_updated(self, since: datetime, until: datetime, *, limit: int,
                                offset: int = 0) -> tuple[list[PaymentSnapshot], int]: ...

    def search_order_payments(self, external_reference: str, created_since: datetime,
                              until: datetime, limit: int = 10) -> list[PaymentSnapshot]: ...

    def get_merchant_order(self, merchant_order_id: str) -> MerchantOrderSnapshot: ...

    def get_chargeback(self, chargeback_id: str) -> ChargebackSnapshot: ...

    def create_preference(self, request: PreferenceRequest) -> PreferenceCreated: ...

    def refund(self, payment_id: str, amount: Any | None, idempotency_key: str,
               *, render_in_process: bool = False) -> RefundResult: ...

    def cancel(self, payment_id: str, idempotency_key: str) -> PaymentSnapshot: ...


class FraudAlertStore(Protocol):
    """Fraud alerts on orders (adapter: ``shared.usecases.fraud_alerts.FraudAlerts``)."""

    def record(self, order_id: str, payment_id: str, now: datetime) -> Recorded: ...


class OperatorRecords(Protocol):
    """What operator actions remember (adapter: ``store.operator_records.OperatorRecords``):
    recent refunds per request, orphan payments, stored payment documents."""

    def recent_refund(self, order_id: str, amount: Decimal | None,
                      now: datetime) -> dict[str, Any] | None: ...

    def remember_refund(self, order_id: str, amount: Decimal | None, refund: dict[str, Any],
                        now: datetime) -> None: ...

    def orphan(self, payment_id: str) -> dict[str, Any] | None: ...

    def mark_orphan_refunded(self, payment_id: str, refund: dict[str, Any],
                             now: datetime) -> None: ...

    def payment(self, payment_id: str) -> dict[str, Any] | None: ...


class ReconcileStore(Protocol):
    """What reconcile reads and writes (adapter: ``store.reconcile_store.ReconcileStore``).
    Orders come with an opaque ``read_at`` (their update time): ``expire`` cancels an order
    only if it did not change since."""

    def cursor(self, name: str) -> dict[str, Any]: ...

    def save_cursor(self, name: str, fields: dict[str, Any]) -> None: ...

    def live_pending_orders(self, threshold: datetime,
                            limit: int) -> list[tuple[dict[str, Any], Any]]: ...

    def pending_orders(self, threshold: datetime, after: Any,
                       limit: int) -> list[tuple[dict[str, Any], Any]]: ...

    def stored_payments(self, payment_ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    def expire(self, order: dict[str, Any], read_at: Any, now: datetime,
               ttl_from_creation: bool) -> bool: ...


class Catalog(Protocol):
    """The product catalog (adapter: ``store.catalog.Catalog``): the well-formed products
    among ``ids``; unknown or malformed ones are left out."""

    def load(self, ids: list[str]) -> dict[str, Product]: ...


class IdempotencyRecords(Protocol):
    """Records of ``Idempotency-Key`` requests (adapter: ``store.idempotency.IdempotencyStore``).
    ``ref`` names a record for the order store's atomic batch, with ``completion``'s fields."""

    def ref(self, key_digest: str) -> Any: ...

    def begin(self, key_digest: str, body_digest: str, new_order_id: str,
              now: datetime) -> BeginResult: ...

    def completion(self, status: int, body: dict[str, Any]) -> dict[str, Any]: ...

    def fail(self, key_digest: str) -> None: ...


class CheckoutDocuments(Protocol):
    """create_payment's documents across stores in few round trips (adapter:
    ``store.checkout_io.CheckoutDocuments``): ``read`` gets a plan's products, order, request
    record and counters in one read; ``open_order`` writes a new order's counters, request
    record and draft in one commit, False (nothing written) when a create found its document."""

    def read(self, plan: ReadPlan) -> Seen: ...

    def open_order(self, opening: Opening) -> bool: ...
