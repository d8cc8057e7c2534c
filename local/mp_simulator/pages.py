"""Buyer-facing HTML pages (no auth, like Mercado Pago's own pages).

- ``/checkout/v1/redirect?pref_id=`` and ``/sandbox/checkout/v1/redirect?pref_id=``: the
  hosted Checkout Pro page (GET shows items, total and test outcomes; POST ``outcome=`` pays).
- ``/sandbox/3ds/<payment id>``: the 3-D Secure challenge: GET, or a POST of the ``creq`` (how
  the Status Screen Brick opens it in an iframe), shows it; POST ``result=approve|reject``.
- ``/sandbox/payments/<payment id>/ticket``: the PIX / ticket / transfer voucher.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint, Response, request

from .errors import ApiError
from .web import base_url, sim

bp = Blueprint("mp_pages", __name__)

PUBLIC_PREFIXES = ("/checkout/v1/", "/sandbox/")

OUTCOME_LABELS = {
    "APRO": "Card APRO (approved)",
    "OTHE": "Card OTHE (rejected)",
    "CONT": "Card CONT (pending, approved later)",
    "PIX": "PIX (pending until approved through /_sim)",
}


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}"
        "</body></html>"
    )
    return Response(html, status=status, mimetype="text/html")


def _error_page(exc: ApiError) -> Response:
    return _page("Mercado Pago simulator", f"<p id='error'>{escape(exc.message)}</p>", exc.status)


@bp.route("/checkout/v1/redirect", methods=["GET", "POST"])
@bp.route("/sandbox/checkout/v1/redirect", methods=["GET", "POST"])
def hosted_checkout() -> Response:
    checkout = sim().checkout
    pref_id = request.args.get("pref_id") or request.form.get("pref_id") or ""
    try:
        pref = checkout.get_preference(pref_id)
    except ApiError as exc:
        return _error_page(exc)
    reason = checkout.refusal(pref)
    if reason is not None:
        return _page("Checkout unavailable", f"<p id='error'>{escape(reason)}</p>", 410)
    if request.method == "GET":
        rows = "".join(
            f"<tr><td>{escape(i['title'])}</td><td>{i['quantity']}</td>"
            f"<td>{i['unit_price']:.2f}</td></tr>"
            for i in pref["items"]
        )
        options = "".join(
            f"<label><input type='radio' name='outcome' value='{k}'"
            f"{' checked' if k == 'APRO' else ''}> {escape(v)}</label><br>"
            for k, v in OUTCOME_LABELS.items()
        )
        return _page("Mercado Pago simulator checkout", (
            f"<table><tr><th>Item</th><th>Qty</th><th>Unit price</th></tr>{rows}</table>"
            f"<p>Total: <span id='total'>{pref['currency_id']} {pref['total_amount']:.2f}"
            f"</span></p><form method='post'>{options}<button type='submit'>Pay</button></form>"
        ))
    try:
        result = checkout.pay(pref_id, request.form.get("outcome", "APRO"), base_url())
    except ApiError as exc:
        return _error_page(exc)
    url = result["redirect_url"]
    status = result["status"]
    if url and (status != "approved" or pref["auto_return"] in ("approved", "all")):
        return Response(status=302, headers={"Location": url})
    link = f"<p><a id='back' href='{escape(url)}'>Return to the shop</a></p>" if url else ""
    return _page("Payment result", (
        f"<p>Payment <span id='payment_id'>{result['payment_id']}</span>: "
        f"<span id='status'>{escape(status)}</span> ({escape(result['status_detail'])})</p>"
        f"<p>Merchant order {result['merchant_order_id']}</p>{link}"
    ))


@bp.route("/sandbox/3ds/<payment_id>", methods=["GET", "POST"])
def three_ds(payment_id: str) -> Response:
    try:
        payment = sim().payments.get(payment_id)
        if request.method == "POST" and "result" not in request.form:
            if not _creq_matches(request.form.get("creq", ""), payment["id"]):
                return _page("3-D Secure", "<p id='error'>Invalid creq</p>", 400)
        elif request.method == "POST":
            payment = sim().payments.resolve_challenge(payment_id, request.form.get("result"))
            return _page("3-D Secure", f"<p id='status'>{escape(payment['status'])}"
                         f" ({escape(payment['status_detail'])})</p>")
    except ApiError as exc:
        return _error_page(exc)
    if payment["status_detail"] != "pending_challenge":
        return _page("3-D Secure", "<p id='error'>No challenge pending</p>", 409)
    return _page("3-D Secure challenge", (
        f"<p>Payment {payment['id']}: {payment['currency_id']} "
        f"{payment['transaction_amount']:.2f}</p><form method='post'>"
        "<button name='result' value='approve'>Approve</button> "
        "<button name='result' value='reject'>Reject</button></form>"
    ))


def _creq_matches(creq: str, payment_id: int) -> bool:
    """The creq (base64url JSON of the challenge request) names this payment."""
    import base64
    import binascii
    import json

    try:
        decoded = json.loads(base64.urlsafe_b64decode(creq + "=" * (-len(creq) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(decoded, dict) and decoded.get("paymentId") == payment_id


@bp.get("/sandbox/payments/<payment_id>/ticket")
def ticket(payment_id: str) -> Response:
    try:
        p = sim().payments.get(payment_id)
    except ApiError as exc:
        return _error_page(exc)
    poi = (p.get("point_of_interaction") or {}).get("transaction_data") or {}
    lines = [
        f"<p>Method: {escape(p['payment_method_id'])} ({escape(p['payment_type_id'])})</p>",
        f"<p>Amount: {p['currency_id']} {p['transaction_amount']:.2f}</p>",
        f"<p>Status: <span id='status'>{escape(p['status'])}</span></p>",
        f"<p>Expires: {escape(str(p.get('date_of_expiration')))}</p>",
    ]
    if poi.get("qr_code"):
        lines.append(f"<img alt='QR' src='data:image/png;base64,{poi['qr_code_base64']}'>"
                     f"<pre id='qr_code'>{escape(poi['qr_code'])}</pre>")
    if p.get("barcode"):
        lines.append(f"<pre id='barcode'>{escape(p['barcode']['content'])}</pre>")
    reference = p["transaction_details"].get("payment_method_reference_id")
    if reference:
        lines.append(f"<p>Reference: <span id='reference'>{escape(str(reference))}</span></p>")
    lines.append("<p>Pay it in tests with POST /_sim/payments/{id}/status "
                 "{\"status\": \"approved\"}.</p>")
    return _page("Payment voucher", "".join(lines))
