"""Chargebacks: opened by a control call, read at ``GET /v1/chargebacks/{id}``.

Opening one moves the payment to ``charged_back`` (through ``change_status``, which notifies
``payment.updated``) and sends a ``topic_chargebacks_wh`` webhook in the guide's shape
(``actions: ["changed_case_status"]``, ``data.id`` the chargeback, ``data.payment_id``).
``change_case`` moves the dispute (``status_detail`` ``in_process`` → ``settled`` |
``reimbursed``) the same way. The resource spells ``coverage_elegible`` as Mercado Pago does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import clock
from .errors import bad_request, not_found
from .ids import IdSequence
from .notifications import Notifier
from .payments import Payments
from .store import Doc, Store

CHARGEABLE = ("approved", "in_mediation")
CASE_DETAILS = ("in_process", "settled", "reimbursed")


class Chargebacks:
    def __init__(self, store: Store, payments: Payments, notifier: Notifier) -> None:
        self._store = store
        self._payments = payments
        self._notifier = notifier
        self._ids = IdSequence(236_000_000_000_000, 237_000_000_000_000)

    def get(self, chargeback_id: str) -> Doc:
        doc = self._store.chargebacks.get(chargeback_id)
        if doc is None:
            raise not_found("Chargeback not found", 404)
        return doc

    def search(self, params: Mapping[str, str]) -> dict[str, Any]:
        docs = self._store.chargebacks.values()
        if params.get("payment_id"):
            docs = [d for d in docs if any(str(p) == params["payment_id"] for p in d["payments"])]
        docs.sort(key=lambda d: str(d["date_created"]))
        return {"paging": {"total": len(docs), "limit": len(docs), "offset": 0}, "results": docs}

    def open(
        self, payment_id: int | str, amount: Any = None, status_detail: str | None = None
    ) -> tuple[Doc, Doc]:
        """Create a chargeback for an approved payment; returns (chargeback, payment)."""
        with self._store.lock:
            payment = self._payments.get(payment_id)
            if payment["status"] not in CHARGEABLE:
                raise bad_request(
                    "The action requested is not valid for the current payment state", 2063
                )
            if amount is None:
                amount = payment["transaction_amount"]
            if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
                raise bad_request("amount must be a positive number", 4041)
            stamp = clock.iso(clock.now())
            cb_id = str(self._ids.next())
            chargeback: Doc = {
                "id": cb_id,
                "payments": [payment["id"]],
                "currency": payment["currency_id"],
                "amount": round(float(amount), 2),
                "reason": "general",
                "coverage_applied": False,
                "coverage_elegible": True,  # (sic) Mercado Pago's spelling
                "documentation_required": True,
                "documentation_status": "pending",
                "documentation": [],
                "date_documentation_deadline": None,
                "date_created": stamp,
                "date_last_updated": stamp,
                "live_mode": False,
            }
            self._store.chargebacks.put(cb_id, chargeback)

            def link(p: Doc) -> None:
                p.setdefault("chargebacks", []).append(cb_id)

            after = self._payments.change_status(
                payment["id"], "charged_back", status_detail or "in_process", mutate=link
            )
            assert after is not None
            self._notify(chargeback, after)
        return chargeback, after

    def _notify(self, chargeback: Doc, payment: Doc) -> None:
        self._notifier.notify("topic_chargebacks_wh", "changed_case_status",
                              str(chargeback["id"]), payment.get("notification_url"),
                              {"payment_id": payment["id"]})

    def change_case(self, chargeback_id: str, status_detail: str) -> tuple[Doc, Doc]:
        """Move a dispute: the payment's ``status_detail`` changes, both webhooks are sent."""
        if status_detail not in CASE_DETAILS:
            raise bad_request(f"status_detail must be one of {', '.join(CASE_DETAILS)}", 400)
        with self._store.lock:
            chargeback = self.get(chargeback_id)
            stamp = clock.iso(clock.now())

            def touch(doc: Doc) -> None:
                doc["date_last_updated"] = stamp

            self._store.chargebacks.update(chargeback["id"], touch)
            after = self._payments.change_status(
                chargeback["payments"][0], "charged_back", status_detail)
            assert after is not None
            self._notify(chargeback, after)
        return self.get(chargeback_id), after
