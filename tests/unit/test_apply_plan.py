"""apply_payment's plan, one branch per test: what applying one fetched payment state to its
order writes (no Firestore: the plan is plain values)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shared.adapters.mercadopago.status import progress
from shared.domain.apply_plan import EffectsMode, FetchedPayment, plan_apply
from shared.domain.events import event_id
from shared.domain.orders import Anomaly, OrderStatus

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T1, T2 = "2026-03-01T11:00:00.000-04:00", "2026-03-01T11:05:00.000-04:00"


def order(status: str = "pending", **extra: Any) -> dict[str, Any]:
    return {"order_id": "ord_1", "status": status, "amount": "200.00", "currency": "BRL",
            "last_payment_id": "p1", **extra}


def fetched(status: str = "approved", detail: str = "accredited", pid: str = "p1",
            amount: str = "200.00", currency: str = "BRL", refunded: str = "0",
            updated: str = T2) -> FetchedPayment:
    return FetchedPayment(pid, "ord_1", progress(status, detail, updated), Decimal(amount),
                          currency, Decimal(refunded))


def test_first_approval_pays_marks_fulfilment_and_stages_order_paid():
    w = plan_apply(order(), None, fetched(), NOW)
    assert w.newer and w.payment_record and w.decision.fulfil
    assert w.after == OrderStatus.PAID
    f = w.order_fields
    assert (f["status"], f["paid_at"], f["paid_by_payment_id"], f["updated_at"]) == (
        "paid", NOW, "p1", NOW)
    assert f["last_payment"] == {"id": "p1", "status": "approved", "status_detail": "accredited"}
    assert w.history == {"status": "paid", "at": NOW, "payment_id": "p1",
                         "payment_status": "approved", "payment_status_detail": "accredited"}
    assert [e["type"] for e in w.events] == ["order.paid"]
    assert w.events[0]["event_id"] == event_id("order.paid", "ord_1")
    assert w.marker is not None and w.marker["state"] == "pending"
    assert w.marker["lease_until"] == NOW + timedelta(seconds=60)
    assert w.anomaly is None and not w.keep_order


@pytest.mark.parametrize(("mode", "state", "lease"), [
    (EffectsMode.RUN_HERE, "pending", NOW + timedelta(seconds=60)),
    (EffectsMode.DEFER, "pending", NOW),   # fulfill takes it over at once
    (EffectsMode.NONE, "done", NOW + timedelta(seconds=60)),
])
def test_fulfilment_marker_follows_who_runs_the_effects(mode, state, lease):
    marker = plan_apply(order(), None, fetched(), NOW, mode).marker
    assert marker is not None and (marker["state"], marker["lease_until"]) == (state, lease)
    assert (marker["amount"], marker["currency"], marker["payment_id"]) == ("200.00", "BRL", "p1")


def test_same_state_again_writes_nothing():
    stored = progress("approved", "accredited", T2)
    w = plan_apply(order("paid", paid_by_payment_id="p1"), stored, fetched(), NOW)
    assert w.nothing and not w.newer and w.order_fields == {} and w.events == ()


def test_same_time_and_rank_with_another_detail_is_newer():
    stored = progress("approved", "accredited", T2)
    w = plan_apply(order("paid", paid_by_payment_id="p1"), stored,
                   fetched(detail="partially_refunded", refunded="50.00"), NOW)
    assert w.newer and w.after == OrderStatus.PARTIALLY_REFUNDED


def test_stale_fetch_is_judged_by_the_stored_state_and_not_recorded():
    """The stored record says approved (later); a stale 'pending' fetch still pays the order
    by the stored state, and neither the record nor the last payment view go back."""
    stored = progress("approved", "accredited", T2)
    w = plan_apply(order(), stored, fetched("pending", "pending_waiting_payment", updated=T1),
                   NOW)
    assert not w.newer and not w.payment_record
    assert w.after == OrderStatus.PAID and w.decision.fulfil
    assert "last_payment" not in w.order_fields
    assert w.history is not None and w.history["payment_status"] == "approved"


def test_stale_fetch_of_a_lower_rank_at_the_same_time_changes_nothing():
    stored = progress("approved", "accredited", T2)
    w = plan_apply(order("paid", paid_by_payment_id="p1"), stored,
                   fetched("in_process", "pending_contingency"), NOW)
    assert w.nothing


@pytest.mark.parametrize(("amount", "currency"), [("199.99", "BRL"), ("200.00", "ARS")])
def test_amount_or_currency_mismatch_records_an_anomaly_not_a_payment(amount, currency):
    w = plan_apply(order(), None, fetched(amount=amount, currency=currency), NOW)
    assert w.decision.anomaly == Anomaly.AMOUNT_MISMATCH and not w.decision.fulfil
    assert w.marker is None and w.events == () and "status" not in w.order_fields
    assert w.order_fields["review_required"] == "amount_mismatch"
    assert w.anomaly is not None
    doc_id, record = w.anomaly
    assert doc_id == "amount_mismatch-p1"
    assert (record["payment_amount"], record["payment_currency"], record["order_amount"],
            record["order_currency"]) == (amount, currency, "200.00", "BRL")
    assert not w.keep_order


def test_money_after_expiry_keeps_the_order_for_the_operator():
    expired = order("cancelled", expired_at=NOW - timedelta(days=1))
    w = plan_apply(expired, None, fetched(), NOW)
    assert w.decision.anomaly == Anomaly.PAID_AFTER_EXPIRY and w.keep_order
    assert w.order_fields["review_required"] == "paid_after_expiry"


def test_second_approved_payment_is_a_duplicate():
    paid = order("paid", paid_by_payment_id="p1", last_payment_id="p2")
    w = plan_apply(paid, None, fetched(pid="p2"), NOW)
    assert w.decision.anomaly == Anomaly.DUPLICATE_PAYMENT and w.anomaly is not None
    assert w.anomaly[0] == "duplicate_payment-p2" and w.marker is None
    assert w.order_fields["last_payment"]["id"] == "p2"


def test_open_payment_only_shows_as_last_payment():
    w = plan_apply(order(), None, fetched("in_process", "pending_contingency"), NOW)
    assert w.decision.new_status is None and w.history is None and w.events == ()
    assert set(w.order_fields) == {"last_payment", "updated_at"}


def test_checkout_pro_payment_shows_while_nothing_paid_the_order():
    w = plan_apply(order(last_payment_id=None), None, fetched("pending", "", pid="p9"), NOW)
    assert w.order_fields["last_payment"]["id"] == "p9"


def test_another_attempt_does_not_show_as_last_payment():
    w = plan_apply(order(), None, fetched("rejected", "cc_rejected_other", pid="p0"), NOW)
    assert "last_payment" not in w.order_fields and not w.nothing  # its record is written


def test_cancelled_last_payment_cancels_the_order():
    w = plan_apply(order(), None, fetched("cancelled", "expired"), NOW)
    assert w.after == OrderStatus.CANCELLED
    assert [e["type"] for e in w.events] == ["order.cancelled"]


def test_partial_refund_records_the_amount_and_names_its_event_by_it():
    paid = order("paid", paid_by_payment_id="p1")
    w = plan_apply(paid, progress("approved", "accredited", T1), fetched(
        detail="partially_refunded", refunded="50.00"), NOW)
    assert w.order_fields["refunded_amount"] == "50.00"
    (event,) = w.events
    assert event["type"] == "order.partially_refunded" and event["refunded_amount"] == "50.00"
    assert event["event_id"] == event_id("order.partially_refunded", "ord_1:50.00")


def test_full_refund_without_an_amount_refunds_the_order_amount():
    paid = order("paid", paid_by_payment_id="p1")
    w = plan_apply(paid, progress("approved", "accredited", T1), fetched("refunded", "refunded"),
                   NOW)
    assert w.after == OrderStatus.REFUNDED and "refunded_amount" not in w.order_fields
    assert w.events[0]["refunded_amount"] == "200.00"


def test_in_mediation_opens_a_dispute_on_the_order():
    paid = order("paid", paid_by_payment_id="p1")
    w = plan_apply(paid, progress("approved", "accredited", T1), fetched("in_mediation", ""), NOW)
    assert w.order_fields["dispute"] == {"status": "in_mediation", "payment_id": "p1",
                                         "since": NOW}
    assert w.decision.new_status is None


def test_chargeback_moves_the_order_and_carries_its_detail():
    paid = order("paid", paid_by_payment_id="p1")
    w = plan_apply(paid, progress("approved", "accredited", T1),
                   fetched("charged_back", "in_process"), NOW)
    assert w.after == OrderStatus.CHARGED_BACK
    assert w.order_fields["chargeback"] == {"status_detail": "in_process", "payment_id": "p1",
                                            "updated_at": NOW, "changes": 0}
    (event,) = w.events
    assert event["type"] == "order.charged_back" and event["status_detail"] == "in_process"


def test_a_changed_chargeback_detail_stages_one_update_event():
    charged = order("charged_back", paid_by_payment_id="p1", chargeback={
        "status_detail": "in_process", "payment_id": "p1", "changes": 0})
    w = plan_apply(charged, progress("charged_back", "in_process", T1),
                   fetched("charged_back", "reimbursed"), NOW)
    assert w.decision.new_status is None
    assert w.order_fields["chargeback"]["changes"] == 1
    (event,) = w.events
    assert event["type"] == "order.chargeback_updated" and event["status_detail"] == "reimbursed"
    assert event["event_id"] == event_id("order.chargeback_updated", "ord_1:chargeback:1")


def test_another_payments_chargeback_is_not_this_orders():
    paid = order("paid", paid_by_payment_id="p1")
    w = plan_apply(paid, None, fetched("charged_back", "in_process", pid="p7"), NOW)
    assert "chargeback" not in w.order_fields and w.events == ()
    assert w.decision.new_status is None
