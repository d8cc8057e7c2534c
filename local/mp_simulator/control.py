"""Test controls under ``/_sim/`` (JSON in, JSON out, no auth)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from .errors import ApiError
from .web import answer, base_url, json_body, sim

bp = Blueprint("mp_sim_control", __name__, url_prefix="/_sim")


def _object() -> dict[str, Any]:
    body = json_body(default={})
    if not isinstance(body, dict):
        raise ApiError(400, "expected a JSON object")
    return body


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ApiError(400, f"{name} must be an integer")
    return int(value)


@bp.errorhandler(ValueError)
def _invalid(exc: ValueError) -> tuple[Response, int]:
    return answer(ApiError(400, str(exc)).body(), 400)


@bp.get("/health")
def health() -> tuple[Response, int]:
    s = sim()
    return answer({
        "status": "ok",
        "payments": len(s.store.payments),
        "refunds": len(s.store.refunds),
        "chargebacks": len(s.store.chargebacks),
        "preferences": len(s.store.preferences),
        "merchant_orders": len(s.store.merchant_orders),
        "card_tokens": len(s.store.card_tokens),
        "scheduled": s.scheduler.pending(),
        "currency": s.config.currency,
    })


@bp.post("/reset")
def reset() -> tuple[Response, int]:
    sim().reset()
    return answer({"reset": True})


@bp.get("/faults")
def list_faults() -> tuple[Response, int]:
    return answer({"faults": sim().faults.rules()})


@bp.post("/faults")
def add_fault() -> tuple[Response, int]:
    rule = sim().faults.add(_object())
    return answer({"fault": rule.to_json(), "faults": sim().faults.rules()}, 201)


@bp.delete("/faults")
def clear_faults() -> tuple[Response, int]:
    sim().faults.clear()
    return answer({"faults": []})


@bp.post("/refunds/contingency")
def refund_contingency() -> tuple[Response, int]:
    """``{"count": n, "seconds": s}``: the next n PIX refunds stay in_process for s seconds."""
    body = _object()
    seconds = body.get("seconds", 1.0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ApiError(400, "seconds must be a number >= 0")
    return answer(sim().refunds.set_contingency(_int(body.get("count", 1), "count"),
                                                float(seconds)), 201)


@bp.get("/notifications")
def notifications() -> tuple[Response, int]:
    s = sim()
    return answer({**s.notifier.settings(), "notifications": s.notifier.produced()})


@bp.post("/notifications")
def configure_notifications() -> tuple[Response, int]:
    body = _object()
    duplicates = body.get("duplicates")
    return answer(sim().notifier.configure(
        mode=body.get("mode"),
        duplicates=None if duplicates is None else _int(duplicates, "duplicates"),
    ))


@bp.post("/notifications/flush")
def flush_notifications() -> tuple[Response, int]:
    order = _object().get("order", "fifo")
    return answer({"order": order, "flushed": sim().notifier.flush(str(order))})


@bp.get("/notifications/log")
def notification_log() -> tuple[Response, int]:
    notifier = sim().notifier
    return answer({"deliveries": notifier.delivery_log(), "pending": notifier.pending()})


@bp.get("/payments")
def list_payments() -> tuple[Response, int]:
    return answer({"results": sim().store.payments.values()})


@bp.post("/payments/<payment_id>/status")
def move_payment(payment_id: str) -> tuple[Response, int]:
    body = _object()
    status = body.get("status")
    detail = body.get("status_detail")
    if not isinstance(status, str) or (detail is not None and not isinstance(detail, str)):
        raise ApiError(400, "status (string) is required; status_detail is a string")
    pid = _int(payment_id, "payment id")
    if status == "charged_back":
        _chargeback, doc = sim().chargebacks.open(pid, None, detail)
        return answer(doc)
    return answer(sim().payments.change_status(pid, status, detail))


@bp.post("/payments/<payment_id>/3ds")
def resolve_3ds(payment_id: str) -> tuple[Response, int]:
    result = _object().get("result")
    return answer(sim().payments.resolve_challenge(_int(payment_id, "payment id"), result))


@bp.post("/payments/<payment_id>/chargeback")
def open_chargeback(payment_id: str) -> tuple[Response, int]:
    body = _object()
    detail = body.get("status_detail")
    if detail is not None and not isinstance(detail, str):
        raise ApiError(400, "status_detail must be a string")
    chargeback, payment = sim().chargebacks.open(
        _int(payment_id, "payment id"), body.get("amount"), detail
    )
    return answer({"chargeback": chargeback, "payment": payment}, 201)


@bp.post("/payments/<payment_id>/fraud_alert")
def fraud_alert(payment_id: str) -> tuple[Response, int]:
    """Send a ``stop_delivery_op_wh`` webhook for a payment (``{"query_data_id": false}``)."""
    from . import fraud_alerts

    body = _object()
    s = sim()
    return answer(fraud_alerts.send(s.payments, s.notifier, _int(payment_id, "payment id"),
                                    bool(body.get("query_data_id", False))), 201)


@bp.post("/chargebacks/<chargeback_id>/case")
def chargeback_case(chargeback_id: str) -> tuple[Response, int]:
    """Move a dispute: ``{"status_detail": "in_process" | "settled" | "reimbursed"}``."""
    detail = _object().get("status_detail")
    if not isinstance(detail, str):
        raise ApiError(400, "status_detail (string) is required")
    chargeback, payment = sim().chargebacks.change_case(chargeback_id, detail)
    return answer({"chargeback": chargeback, "payment": payment})


@bp.post("/payments/<payment_id>/backdate")
def backdate_payment(payment_id: str) -> tuple[Response, int]:
    """Shift a payment's dates ``days`` into the past (to test the 180-day refund limit)."""
    days = _int(_object().get("days"), "days")
    return answer(sim().payments.backdate(_int(payment_id, "payment id"), days))


@bp.post("/preferences/<pref_id>/pay")
def pay_preference(pref_id: str) -> tuple[Response, int]:
    """What the hosted page's form does, as JSON: ``{"outcome": "APRO|OTHE|CONT|PIX"}``."""
    outcome = _object().get("outcome", "APRO")
    result = sim().checkout.pay(pref_id, str(outcome), base_url())
    return answer({k: result[k] for k in ("payment_id", "merchant_order_id", "redirect_url",
                                          "status", "status_detail")}, 201)


@bp.post("/webhooks/resend")
def resend_webhook() -> tuple[Response, int]:
    body = _object()
    action = body.get("action", "payment.updated")
    if not isinstance(action, str):
        raise ApiError(400, "action must be a string")
    notification_id = sim().payments.resend(_int(body.get("payment_id"), "payment_id"), action)
    return answer({"notification_id": notification_id})


@bp.get("/payments/<payment_id>/device")
def payment_device(payment_id: str) -> tuple[Response, int]:
    """The ``X-meli-session-id`` the payment was created with (Mercado Pago never shows it)."""
    pid = _int(payment_id, "payment id")
    sim().payments.get(pid)
    return answer({"payment_id": pid,
                   "device_session_id": sim().store.device_sessions.get(pid)})
