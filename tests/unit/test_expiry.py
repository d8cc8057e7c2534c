"""Which unpaid orders may expire (shared/usecases/expiry.py), and a payment after expiry."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.adapters.mercadopago.models import PaymentSnapshot
from shared.domain.orders import Anomaly, OrderState, OrderStatus, PaymentState, decide
from shared.domain.payments import PaymentOutcome
from shared.platform.config import Settings
from shared.usecases.expiry import should_expire

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
S = replace(Settings(project="p"), order_ttl_hours=24, checkout_pro_expiry_minutes=60)


def order(age: timedelta, **extra: Any) -> dict[str, Any]:
    at = NOW - age
    return {"order_id": "ord_x", "status": "pending", "amount": "10.00", "currency": "BRL",
            "created_at": at, "updated_at": at, "last_payment": None, **extra}


def mp(status: str) -> PaymentSnapshot:
    return PaymentSnapshot(id="1", status=status, status_detail="", amount=Decimal("10"),
                           currency="BRL", external_reference="ord_x", date_created="",
                           date_last_updated="")


@pytest.mark.parametrize(("o", "payments", "expected"), [
    (order(timedelta(hours=25)), [], True),  # never attempted
    (order(timedelta(hours=25), last_payment={"id": "1", "status": "rejected"}),
     [mp("rejected")], True),  # all refused
    (order(timedelta(hours=23)), [], False),  # too young
    (order(timedelta(hours=30), updated_at=NOW - timedelta(hours=2)), [], False),  # recent attempt
    (order(timedelta(hours=25), last_payment={"id": "1", "status": "in_process"}), [], False),
    (order(timedelta(hours=25), last_payment={"id": "1", "status": "authorized"}), [], False),
    (order(timedelta(hours=25), last_payment={"id": "1", "status": "approved"}), [], False),
    (order(timedelta(hours=25)), [mp("pending")], False),  # unknown outcome: exists at MP
    (order(timedelta(hours=25)), [mp("rejected"), mp("in_process")], False),
    (order(timedelta(hours=25), status="paid"), [], False),
    # Checkout Pro: after the preference's expiry, only with no payment at all
    (order(timedelta(minutes=61), checkout={"preference_id": "p"}), [], True),
    (order(timedelta(minutes=59), checkout={"preference_id": "p"}), [], False),
    (order(timedelta(minutes=61), checkout={"preference_id": "p"}), [mp("rejected")], False),
])
def test_should_expire(o, payments, expected):
    assert should_expire(o, payments, NOW, S) is expected


def test_a_payment_approved_after_expiry_is_an_anomaly_not_a_sale():
    expired = OrderState(status=OrderStatus.CANCELLED, amount=Decimal("10"), currency="BRL",
                         expired=True)
    approved = PaymentState(id="1", outcome=PaymentOutcome.APPROVED, amount=Decimal("10"),
                            currency="BRL")
    decision = decide(expired, approved)
    assert decision.anomaly == Anomaly.PAID_AFTER_EXPIRY
    assert decision.new_status is None and not decision.fulfil
    # an order cancelled for another reason is still paid by the money that arrived
    cancelled = replace(expired, expired=False)
    assert decide(cancelled, approved).new_status == OrderStatus.PAID
