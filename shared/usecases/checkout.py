"""create_payment's use case: price an order from the catalog and charge it once.

Order of writes:
1. the request's idempotency record (when an ``Idempotency-Key`` is sent);
2. the order, ``pending`` with no payment yet, so that Mercado Pago's notification for the
   payment always finds it (the notification can arrive before the payment call returns);
   for a new order, 1 and 2 and the attempt limits' counters are one atomic commit
   (``shared.adapters.store.checkout_io``); a key claimed meanwhile, or a re-payment, takes
   the steps one by one;
3. the payment at Mercado Pago, with ``X-Idempotency-Key = sha256(order_id:card_token)``;
4. the attempt on the order and the completed request record, in one atomic batch.

A definite refusal (Mercado Pago answered an error, or could not be reached at all) deletes
the order again: a failed request leaves nothing behind. A timeout leaves the outcome unknown,
so the order stays and its id is returned; a retry (same ``Idempotency-Key``, or the same
``order_id`` and card token) reuses the same Mercado Pago key and so never charges twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from google.api_core import exceptions as gexc

from shared.adapters.mercadopago.conventions import is_test_credential, mp_datetime
from shared.adapters.mercadopago.errors import ProviderError
from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.adapters.mercadopago.requests import (
    PayerInfo,
    PaymentRequest,
    PreferenceCreated,
    PreferenceRequest,
)
from shared.adapters.store.checkout_io import Opening, ReadPlan, Seen
from shared.adapters.store.client import UNAVAILABLE
from shared.adapters.store.idempotency import key_hash, replay_of
from shared.domain.errors import (
    ConcurrentChange,
    DomainError,
    ForeignPayment,
    MethodNotAvailable,
    NoSuchOrder,
    NotConfigured,
    StorageUnavailable,
)
from shared.domain.limits import Counter
from shared.domain.money import format_amount
from shared.domain.orders import OrderStatus
from shared.domain.payment_methods import availability_error
from shared.domain.records import record
from shared.platform import log
from shared.platform.config import Settings
from shared.platform.schemas import (
    BankTransferPayment,
    CardPayment,
    CheckoutProPayment,
    CreatePaymentRequest,
    Payment,
    PixPayment,
    TicketPayment,
)
from shared.platform.secrets import SecretError
from shared.usecases.attempt_limits import Admission, AttemptGuard
from shared.usecases.charge_outcome import charge_error
from shared.usecases.checkout_plan import (
    Begun,
    CheckoutResult,
    DraftStep,
    PricedOrder,
    attempt_to_admit,
    check_quantities,
    claimed,
    compensation,
    draft_step,
    is_foreign,
    method_id,
    opens_in_one_commit,
    payment_key,
    price_items,
    price_stored,
)
from shared.usecases.ports import (
    Catalog,
    CheckoutDocuments,
    IdempotencyRecords,
    OrderStore,
    PaymentGateway,
)

T = TypeVar("T")

__all__ = ["BuyerContext", "Checkout"]


@record(frozen=True)
class BuyerContext:
    """What the request tells about the buyer: Mercado Pago's approval inputs, and the address
    the attempt limits count per."""

    ip_address: str | None = None
    device_session_id: str | None = None


def new_order_id() -> str:
    """144 random bits; the prefix keeps ids from starting with "-" (read as a CLI option)."""
    return "ord_" + secrets.token_urlsafe(18)




def answer_extras(payment: Payment, snapshot: PaymentSnapshot) -> dict[str, Any]:
    """What the buyer needs to finish paying, per method."""
    info = snapshot.instructions
    if isinstance(payment, PixPayment):
        keys = ("qr_code", "qr_code_base64", "ticket_url", "expires_at")
        return {k: info.get(k) for k in keys}
    if isinstance(payment, TicketPayment):
        extras = {k: info.get(k) for k in ("ticket_url", "expires_at")}
        if "barcode" in info:
            extras["barcode"] = info["barcode"]
        return extras
    if isinstance(payment, BankTransferPayment):
        return _transfer_extras(info)
    if snapshot.status_detail == "pending_challenge" and "challenge_url" in info:
        return {"challenge_url": info["challenge_url"], "creq": info.get("creq")}
    return {}


def _transfer_extras(info: dict[str, Any]) -> dict[str, Any]:
    # SPEI: Mercado Pago returns the reference in payment_method.data.reference_id and
    # the buyer's instructions at transaction_details.external_resource_url.
    transfer: dict[str, str | None] = {
        k.removeprefix("bank_"): v for k, v in info.items() if k.startswith("bank_")}
    transfer["reference"] = info.get("transfer_reference")
    if "financial_institution" in info:
        transfer["financial_institution"] = info["financial_institution"]
    return {"transfer": transfer, "ticket_url": info.get("ticket_url"),
            "expires_at": info.get("expires_at")}


def notification_url(base: str) -> str:
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}source_news=webhooks"


def storage_unavailable(outcome_unknown: bool = False) -> StorageUnavailable:
    return StorageUnavailable("the order store is not answering; retry",
                              outcome_unknown=outcome_unknown)


class Checkout:
    def __init__(
        self,
        settings: Settings,
        orders: OrderStore,
        idempotency: IdempotencyRecords,
        catalog: Catalog,
        gateway: Callable[[], PaymentGateway],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        guard: AttemptGuard | None = None,
        bot_check: Callable[[str | None], None] | None = None,
        *,
        documents: CheckoutDocuments,
    ) -> None:
        self._documents = documents
        self._guard = guard
        self._bot_check = bot_check
        self._settings = settings
        self._orders = orders
        self._idempotency = idempotency
        self._catalog = catalog
        self._gateway = gateway
        self._clock = clock

    # -- the use case: begin → ensure the draft → charge → settle or compensate ---------------
    def create(
        self, request: CreatePaymentRequest, idempotency_key: str | None, body_digest: str,
        buyer: BuyerContext | None = None, bot_token: str | None = None,
    ) -> CheckoutResult:
        if not self._settings.notification_url:
            raise NotConfigured("NOTIFICATION_URL is not configured")
        key_digest = key_hash(idempotency_key) if idempotency_key else None
        begun = self._begin(request, key_digest, body_digest, buyer, bot_token)
        if isinstance(begun, CheckoutResult):
            return begun
        priced, created_here = begun
        log.bind(order_id=priced.order_id)
        if created_here is None:
            created_here = self._ensure_draft(priced, request.payment, key_digest)
        try:
            return self._charge(request, priced, buyer or BuyerContext(), key_digest)
        except DomainError as exc:
            self._compensate(priced, exc, created_here, key_digest)
            raise

    def _begin(self, request: CreatePaymentRequest, key_digest: str | None, body_digest: str,
               buyer: BuyerContext | None, bot_token: str | None) -> Begun | CheckoutResult:
        """Price the order, answer a replay, run the checks a new attempt passes, and claim
        the idempotency key: the order to charge (with True when its draft is written, None
        when it is not yet), or the answer already given."""
        client_ip = (buyer.ip_address if buyer else None) or "unknown"
        try:
            seen = self._read(request, key_digest, client_ip)
            priced = self._price(request, seen)
            if key_digest is not None:
                replay = replay_of(seen.record or {}, body_digest)
                if replay is not None:  # not a new attempt: no limit counts it
                    return CheckoutResult(replay.status, replay.body, replayed=True)
            if self._bot_check is not None:  # once per new attempt: tokens are single-use
                self._bot_check(bot_token)
            admission = self._check_limits(request, priced, client_ip, seen.counts)
            if opens_in_one_commit(priced, key_digest, seen.record, admission) and self._open(
                    priced, request.payment, key_digest, body_digest, admission):
                return priced, True
            return self._claim(request, priced, key_digest, body_digest, admission)
        except UNAVAILABLE as exc:
            raise storage_unavailable() from exc

    def _read(self, request: CreatePaymentRequest, key_digest: str | None,
              client_ip: str) -> Seen:
        """One read for what the attempt needs first: the products (or the order), the
        request record and the windowed counters."""
        products: tuple[str, ...] = ()
        if request.order_id is None:
            assert request.items is not None
            check_quantities(request.items)
            products = tuple(dict.fromkeys(i.product_id for i in request.items))
        counters: list[Counter] = []
        if self._guard is not None:
            counters = self._guard.prefetch(
                client_ip, request.payer.email if request.payer else None,
                new_order=request.order_id is None)
        return self._documents.read(ReadPlan(products, request.order_id, key_digest,
                                             tuple(counters)))

    def _price(self, request: CreatePaymentRequest, seen: Seen) -> PricedOrder:
        if request.order_id is not None:
            priced = price_stored(request.order_id, seen.order, request.payment)
        else:
            assert request.items is not None
            priced = price_items(new_order_id(), request.items, seen.products)
        problem = availability_error(method_id(request.payment), priced.currency,
                                     self._settings.mp_country)
        if problem:
            raise MethodNotAvailable(problem, [{"path": "$.payment", "message": problem}])
        return priced

    def _check_limits(self, request: CreatePaymentRequest, priced: PricedOrder,
                      client_ip: str, counts: dict[str, int]) -> Admission | None:
        """The abuse limits (``shared.usecases.attempt_limits``), checked, not yet counted; a
        retry of an attempt already made (same order and card token) is not a new attempt."""
        if self._guard is None:
            return None
        attempt = attempt_to_admit(request, priced, client_ip)
        return None if attempt is None else self._guard.check(attempt, counts)

    def _open(self, priced: PricedOrder, payment: Payment, key_digest: str | None,
              body_digest: str, admission: Admission | None) -> bool:
        """A new order: the counters, the request record and the draft in one commit. False
        when the key was claimed meanwhile (nothing written)."""
        opening = Opening(self._draft(priced, payment_key(priced.order_id, payment)),
                          self._clock(), admission.counters if admission else (),
                          key_digest, body_digest)
        try:
            return self._documents.open_order(opening)
        except UNAVAILABLE as exc:
            # Written or not: nothing was charged. A record written stays claimable by a
            # retry (FAILED resumes its order id); counters written count an attempt.
            if key_digest is not None:
                self._idempotency.fail(key_digest)
            raise storage_unavailable() from exc

    def _claim(self, request: CreatePaymentRequest, priced: PricedOrder,
               key_digest: str | None, body_digest: str,
               admission: Admission | None) -> Begun | CheckoutResult:
        """The sequential path (a re-payment, an existing record): count the attempt, then
        claim the key; the draft is written after."""
        if admission is not None:
            assert self._guard is not None
            self._guard.commit(admission)
        if key_digest is None:
            return priced, None
        begun = self._idempotency.begin(key_digest, body_digest, priced.order_id, self._clock())
        result = claimed(begun, priced, order_given=request.order_id is not None)
        return result if isinstance(result, CheckoutResult) else (result, None)

    def _ensure_draft(self, priced: PricedOrder, payment: Payment,
                      key_digest: str | None) -> bool:
        """Write what must exist before charging; True when this request created the order."""
        mp_key = payment_key(priced.order_id, payment)
        step = draft_step(priced, mp_key)
        try:
            if step is DraftStep.CREATE:
                return self._orders.create_draft(self._draft(priced, mp_key))
            if step is DraftStep.REMEMBER_KEY:
                self._orders.remember_attempt_key(priced.order_id, mp_key)
        except UNAVAILABLE as exc:
            if key_digest is not None:
                self._idempotency.fail(key_digest)
            raise storage_unavailable() from exc
        return False

    def _charge(self, request: CreatePaymentRequest, priced: PricedOrder, buyer: BuyerContext,
                key_digest: str | None) -> CheckoutResult:
        """Call Mercado Pago, then settle: record the attempt and complete the request."""
        if isinstance(request.payment, CheckoutProPayment):
            preference = self._call(lambda gw: gw.create_preference(
                self._preference_request(request, priced)))
            return self._commit_preference(priced, preference, key_digest)
        payment = self._call(lambda gw: gw.create_payment(
            self._payment_request(request, priced, buyer)))
        return self._commit(request, priced, payment, key_digest)

    def _compensate(self, priced: PricedOrder, exc: DomainError, created_here: bool,
                    key_digest: str | None) -> None:
        """After a failed charge: delete a draft nothing was charged for, name a kept order,
        release the idempotency key for a retry."""
        plan = compensation(created_here, exc.outcome_unknown)
        if plan.delete_draft:
            with contextlib.suppress(*UNAVAILABLE):
                self._orders.delete_draft(priced.order_id)
        if plan.name_order:
            exc.detail["order_id"] = priced.order_id
        if key_digest is not None:
            self._idempotency.fail(key_digest)

    def _draft(self, priced: PricedOrder, mp_key: str) -> dict[str, Any]:
        now = self._clock()
        return {
            "order_id": priced.order_id, "status": OrderStatus.PENDING.value,
            "amount": format_amount(priced.amount), "currency": priced.currency,
            "items": priced.items, "created_at": now, "updated_at": now,
            "last_payment_id": None, "last_payment": None, "payment_ids": [],
            "attempt_keys": [mp_key],
            "history": [{"status": OrderStatus.PENDING.value, "at": now}],
        }

    def _payment_request(self, request: CreatePaymentRequest, priced: PricedOrder,
                         buyer: BuyerContext) -> PaymentRequest:
        payer = request.payer
        assert payer is not None
        ident = payer.identification
        address = None
        if payer.address is not None:
            address = {f: getattr(payer.address, f) for f in payer.address.__struct_fields__}
        info = PayerInfo(email=payer.email, first_name=payer.first_name,
                         last_name=payer.last_name,
                         identification_type=ident.type if ident else None,
                         identification_number=ident.number if ident else None,
                         address=address,
                         phone={"area_code": payer.phone.area_code, "number": payer.phone.number}
                         if payer.phone else None)
        payment = request.payment
        base = PaymentRequest(
            amount=priced.amount, description=priced.description, payer=info,
            payment_method_id=method_id(payment), external_reference=priced.order_id,
            notification_url=notification_url(self._settings.notification_url),
            idempotency_key=payment_key(priced.order_id, payment),
            additional_items=self._additional_items(priced),
            ip_address=buyer.ip_address, device_session_id=buyer.device_session_id,
            statement_descriptor=self._settings.statement_descriptor or None,
            binary_mode=self._settings.binary_mode)
        now = self._clock()
        if isinstance(payment, CardPayment):
            return dataclasses.replace(
                base, token=payment.token, installments=payment.installments,
                issuer_id=payment.issuer_id,
                three_d_secure_mode=self._settings.card_three_d_secure_mode)
        if isinstance(payment, PixPayment):
            expires = now + timedelta(minutes=self._settings.pix_expiry_minutes)
        else:
            expires = now + timedelta(hours=self._settings.ticket_expiry_hours)
        return dataclasses.replace(base, date_of_expiration=mp_datetime(expires))

    def _additional_items(self, priced: PricedOrder) -> tuple[dict[str, Any], ...]:
        """additional_info.items: the catalog's view of each line (category when it has one).
        A re-payment of an existing order reads the categories again; a product deleted
        since then simply goes without one."""
        categories: dict[str, str | None] = dict(priced.categories or {})
        if priced.categories is None:
            with contextlib.suppress(*UNAVAILABLE):
                products = self._catalog.load([line["product_id"] for line in priced.items])
                categories = {pid: p.category_id for pid, p in products.items()}
        items = []
        for line in priced.items:
            item: dict[str, Any] = {"id": line["product_id"], "title": line["title"],
                                    "quantity": line["quantity"],
                                    "unit_price": Decimal(line["unit_price"])}
            if categories.get(line["product_id"]):
                item["category_id"] = categories[line["product_id"]]
            items.append(item)
        return tuple(items)

    def _preference_request(self, request: CreatePaymentRequest,
                            priced: PricedOrder) -> PreferenceRequest:
        s = self._settings
        back_urls = {k: v for k, v in (("success", s.checkout_success_url),
                                       ("failure", s.checkout_failure_url),
                                       ("pending", s.checkout_pending_url)) if v}
        items = [{"id": line["product_id"], "title": line["title"],
                  "quantity": line["quantity"], "unit_price": Decimal(line["unit_price"]),
                  "currency_id": priced.currency} for line in priced.items]
        expires = self._clock() + timedelta(minutes=s.checkout_pro_expiry_minutes)
        return PreferenceRequest(
            items=items, external_reference=priced.order_id,
            notification_url=notification_url(s.notification_url), back_urls=back_urls,
            expires_at=mp_datetime(expires),
            idempotency_key=payment_key(priced.order_id, request.payment),
            payer_email=request.payer.email if request.payer else None)

    def _call(self, action: Callable[[PaymentGateway], T]) -> T:
        """Call Mercado Pago, mapping its failures to the API's error contract."""
        try:
            gateway = self._gateway()
        except SecretError as exc:
            log.error("secret_missing", "MP_ACCESS_TOKEN unavailable; refusing to charge")
            raise NotConfigured("the payment provider is not configured") from exc
        try:
            return action(gateway)
        except ProviderError as exc:
            raise charge_error(exc) from exc

    def _commit_preference(self, priced: PricedOrder, preference: PreferenceCreated,
                           key_digest: str | None) -> CheckoutResult:
        body: dict[str, Any] = {"order_id": priced.order_id, "preference_id": preference.id,
                                "init_point": preference.init_point, "status": "pending"}
        if self._test_mode():
            body["sandbox_init_point"] = preference.sandbox_init_point
        log.info("preference_created", "Checkout Pro preference created",
                 preference_id=preference.id)
        record = None
        if key_digest is not None:
            record = (self._idempotency.ref(key_digest), self._idempotency.completion(201, body))
        try:
            self._orders.record_checkout(priced.order_id, {
                "preference_id": preference.id, "init_point": preference.init_point},
                self._clock(), record)
        except UNAVAILABLE as exc:
            raise storage_unavailable() from exc
        return CheckoutResult(201, body)

    def _test_mode(self) -> bool:
        from shared.platform.secrets import reader

        return is_test_credential(reader(self._settings).get(self._settings.mp_access_token))

    def _commit(
        self, request: CreatePaymentRequest, priced: PricedOrder, payment: PaymentSnapshot,
        key_digest: str | None,
    ) -> CheckoutResult:
        if is_foreign(priced, payment.external_reference):
            raise ForeignPayment("the provider returned a foreign payment")
        log.bind(payment_id=payment.id)
        log.info("payment_created", "payment created", payment_status=payment.status,
                 payment_status_detail=payment.status_detail, method=method_id(request.payment))
        now = self._clock()
        body: dict[str, Any] = {"order_id": priced.order_id, "payment_id": payment.id,
                                "status": payment.status, "status_detail": payment.status_detail}
        body.update(answer_extras(request.payment, payment))
        attempt = {"id": payment.id, "status": payment.status,
                   "status_detail": payment.status_detail}
        record = None
        if key_digest is not None:
            record = (self._idempotency.ref(key_digest), self._idempotency.completion(201, body))
        try:
            self._orders.record_attempt(priced.order_id, attempt, now, record)
        except (gexc.FailedPrecondition, gexc.NotFound) as exc:
            raise ConcurrentChange("the order changed meanwhile; retry") from exc
        except UNAVAILABLE as exc:
            # The payment exists; the retry (same keys) finds it and records it.
            raise storage_unavailable(outcome_unknown=True) from exc
        return CheckoutResult(201, body)

    def order_view(self, order_id: str) -> dict[str, Any]:
        try:
            order = self._orders.get(order_id)
        except UNAVAILABLE as exc:
            raise storage_unavailable() from exc
        if order is None:
            raise NoSuchOrder("no such order")
        return public_order(order)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else (str(value) if value else None)


def order_flags(order: dict[str, Any]) -> dict[str, Any]:
    """What an operator must act on: a standing fraud alert, a chargeback's status."""
    from shared.domain import disputes
    from shared.usecases import fraud_alerts

    return {"fraud_alert": fraud_alerts.public_view(order),
            "chargeback": disputes.public_view(order)}


def public_order(order: dict[str, Any]) -> dict[str, Any]:
    """The order as the buyer's frontend may see it: no payer data."""
    last = order.get("last_payment") or {}
    return {
        "order_id": order["order_id"],
        "status": order["status"],
        "amount": order["amount"],
        "currency": order["currency"],
        "items": [{k: i[k] for k in ("product_id", "title", "quantity", "unit_price")}
                  for i in order.get("items", [])],
        "updated_at": _iso(order.get("updated_at")),
        "paid_at": _iso(order.get("paid_at")),
        "last_payment": {"id": last.get("id"), "status": last.get("status"),
                         "status_detail": last.get("status_detail")} if last else None,
        **order_flags(order),
    }
