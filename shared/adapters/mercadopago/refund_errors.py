"""Mercado Pago's refund cause codes, as the operator should read them.

From Mercado Pago's refund reference: 2063 the payment's state does not allow the action
(not approved, already refunded, in mediation), 4040 the amount must be positive, 4041 the
amount must be a number, 2024 and 15016 the payment is too old to be refunded, 3024 a partial
refund is not supported for this payment method, 4292 the ``X-Idempotency-Key`` header is
missing (a defect of this client, never the operator's).
"""

from __future__ import annotations

REFUND_CAUSES: dict[str, tuple[str, str]] = {
    "2063": ("refund_not_allowed", "the payment's state does not allow a refund "
             "(not approved, already refunded or in dispute)"),
    "4040": ("invalid_amount", "the refund amount must be positive and at most what remains"),
    "4041": ("invalid_amount", "the refund amount must be a number"),
    "2024": ("refund_period_expired", "the payment is too old to be refunded"),
    "15016": ("refund_period_expired", "the payment is too old to be refunded"),
    "3024": ("partial_refund_unsupported", "this payment method does not accept partial "
             "refunds; refund the whole payment"),
    "4292": ("idempotency_key_missing", "Mercado Pago requires X-Idempotency-Key (a defect "
             "of this client; please report it)"),
}


def refund_refusal(cause_codes: list[str], reason: str) -> tuple[str, str]:
    """(code, message) for a refused refund: the first known cause, else ``refund_refused``."""
    for cause in cause_codes:
        if cause in REFUND_CAUSES:
            code, text = REFUND_CAUSES[cause]
            return code, f"{text} (Mercado Pago cause {cause})"
    return "refund_refused", f"Mercado Pago refused: {reason} {cause_codes}".strip()
