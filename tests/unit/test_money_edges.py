"""Pure rules behind issue 8's money edges: when a failed charge certainly created nothing,
the order-id form of orphan payments, refund cause codes, retries of a settled attempt,
the order view's last payment, the SPEI answer."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from decimal import Decimal

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError

from shared.adapters.mercadopago.errors import (
    MalformedResource,
    ProviderAuthFailed,
    ProviderRejected,
    ProviderUnavailable,
    ResourceNotFound,
)
from shared.adapters.mercadopago.http import PooledHttpClient


# -- where a request failed: never left, or maybe taken ------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def hang_up_server() -> Iterator[str]:
    """Reads the request, then closes the connection without answering (a reset after send)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(2)
    server.close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts and reads, never answers (a read timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(0.2)
        while True:
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def _post(base: str, timeout: float = 2.0) -> ProviderUnavailable:
    client = PooledHttpClient(base, timeout)
    with pytest.raises(ProviderUnavailable) as caught:
        client.request("POST", "https://api.mercadopago.com/v1/payments", json={"a": 1})
    return caught.value


def test_connection_refused_never_left():
    failure = _post(f"http://127.0.0.1:{_free_port()}")
    assert failure.sent is False and failure.timeout is False


def test_dns_failure_never_left():
    from shared.adapters.mercadopago.http import transport_failure

    resolution = NameResolutionError("api.example.invalid", None, socket.gaierror("no name"))  # type: ignore[arg-type]
    wrapped = requests.ConnectionError(MaxRetryError(None, "/v1/payments", resolution))  # type: ignore[arg-type]
    assert transport_failure(wrapped).sent is False


def test_connect_timeout_never_left():
    from shared.adapters.mercadopago.http import transport_failure

    assert transport_failure(requests.ConnectTimeout("connect timed out")).sent is False


def test_reset_after_the_request_was_sent_may_have_charged(hang_up_server):
    failure = _post(hang_up_server)
    assert failure.sent is True and failure.timeout is False


def test_read_timeout_may_have_charged(silent_server):
    failure = _post(silent_server, timeout=0.3)
    assert failure.sent is True and failure.timeout is True


# -- which provider failures certainly created no payment ---------------------------------
def _rejected(status: int, causes: list[int] | None = None) -> ProviderRejected:
    body = {"message": "m", "status": status,
            "cause": [{"code": c, "description": "d"} for c in (causes or [])]}
    return ProviderRejected(status, body)


@pytest.mark.parametrize(("failure", "definite"), [
    (lambda: ProviderUnavailable("refused", sent=False), True),
    (lambda: ProviderAuthFailed(401, {}), True),
    (lambda: ProviderAuthFailed(403, {}), True),
    (lambda: _rejected(400, [3003]), True),
    (lambda: _rejected(404), True),
    (lambda: ResourceNotFound("gone"), True),
    (lambda: ProviderUnavailable("timeout", timeout=True), False),
    (lambda: ProviderUnavailable("reset after send"), False),
    (lambda: ProviderUnavailable("500", status=500), False),
    (lambda: ProviderUnavailable("503", status=503), False),
    (lambda: ProviderUnavailable("429", status=429), False),
    (lambda: _rejected(409), False),
    (lambda: _rejected(423), False),
    (lambda: _rejected(424), False),
    (lambda: _rejected(400), False),  # a 400 that names no cause does not say "not created"
    (lambda: MalformedResource("2xx we cannot read"), False),
])
def test_only_a_definite_refusal_means_no_payment(failure, definite):
    from shared.platform.error_map import api_error
    from shared.usecases.charge_outcome import charge_error, definitely_not_created

    failure = failure()
    assert definitely_not_created(failure) is definite
    error = api_error(charge_error(failure))
    if not definite:
        assert (error.status, error.code) == (503, "payment_outcome_unknown")
        assert error.extra["retryable"] is True and error.headers["Retry-After"]
    else:
        assert error.code != "payment_outcome_unknown"


def test_definite_refusals_keep_their_codes():
    from shared.platform.error_map import api_error
    from shared.usecases.charge_outcome import charge_error

    def code(failure: Exception) -> str:
        return api_error(charge_error(failure)).code  # type: ignore[arg-type]

    assert code(ProviderUnavailable("x", sent=False)) == "provider_unreachable"
    assert code(ProviderAuthFailed(401, {})) == "provider_auth_failed"
    rejected = api_error(charge_error(_rejected(400, [2006])))
    assert rejected.status == 422 and rejected.extra["provider_causes"] == ["2006"]


# -- orphan payments: this project's order-id form ----------------------------------------
def test_order_id_form_matches_what_checkout_creates_and_nothing_else():
    from shared.domain.anomalies import is_order_id
    from shared.usecases.checkout import new_order_id

    assert all(is_order_id(new_order_id()) for _ in range(200))
    for other in ("order-x", "ord_short", "", "shop-123", new_order_id() + "\n",
                  "xord_" + "a" * 24, "ord_" + "a" * 25, "ord_" + "a" * 23 + "!"):
        assert not is_order_id(other), other


# -- refunds -------------------------------------------------------------------------------
@pytest.mark.parametrize(("cause", "code"), [
    ("2063", "refund_not_allowed"), ("4040", "invalid_amount"), ("4041", "invalid_amount"),
    ("2024", "refund_period_expired"), ("15016", "refund_period_expired"),
    ("3024", "partial_refund_unsupported"), ("4292", "idempotency_key_missing"),
    ("9999", "refund_refused"),
])
def test_refund_cause_codes_are_named(cause, code):
    from shared.adapters.mercadopago.refund_errors import refund_refusal

    named, message = refund_refusal([cause], "why")
    assert named == code and message


# -- a retry of an attempt whose order is already paid --------------------------------------
def test_a_known_card_attempt_is_a_retry_whatever_the_order_status():
    from shared.platform.schemas import CardPayment, PixPayment
    from shared.usecases.checkout_plan import is_retry_of, payment_key

    card = CardPayment(token="tok1", payment_method_id="master", installments=1)
    other = CardPayment(token="tok2", payment_method_id="master", installments=1)
    keys = (payment_key("ord_1", card),)
    assert is_retry_of("ord_1", card, keys)
    assert not is_retry_of("ord_1", other, keys)
    assert not is_retry_of("ord_2", card, keys)
    pix = PixPayment()
    assert not is_retry_of("ord_1", pix, (payment_key("ord_1", pix),))  # only card attempts


# -- the order view's last payment (Checkout Pro records no attempt) -----------------------
def test_last_payment_shown_when_checkout_recorded_no_attempt():
    from shared.adapters.store.orders import shows_as_last_payment
    from shared.domain.orders import OrderState, OrderStatus

    def state(last: str | None, paid_by: str | None) -> OrderState:
        return OrderState(OrderStatus.PENDING, Decimal("1"), "BRL", last, paid_by)

    assert shows_as_last_payment(state("p1", None), "p1")
    assert not shows_as_last_payment(state("p1", None), "p2")
    assert shows_as_last_payment(state(None, None), "p9")  # Checkout Pro
    assert shows_as_last_payment(state(None, "p9"), "p9")
    assert not shows_as_last_payment(state(None, "p9"), "p8")  # the paying one wins


# -- SPEI: the fields Mercado Pago really returns ------------------------------------------
def test_spei_answer_carries_reference_and_instructions():
    from shared.adapters.mercadopago.models import PaymentSnapshot
    from shared.platform.schemas import BankTransferPayment
    from shared.usecases.checkout import answer_extras

    # Shape of Mercado Pago's SPEI guide example (Checkout API, "SPEI Transfers").
    body = {"id": 51096146182, "status": "pending", "status_detail": "pending_waiting_transfer",
            "transaction_amount": 5000, "currency_id": "MXN", "payment_method_id": "clabe",
            "payment_type_id": "bank_transfer",
            "payment_method": {"id": "clabe", "type": "bank_transfer", "data": {
                "reference_id": "6410293433784980810", "external_reference_id": "1009"}},
            "transaction_details": {"external_resource_url":
                                    "https://www.mercadopago.com.mx/payments/51096146182/ticket"},
            "date_of_expiration": "2026-01-04T00:00:00.000-04:00"}
    extras = answer_extras(BankTransferPayment(), PaymentSnapshot.from_api(body))
    assert extras["transfer"]["reference"] == "6410293433784980810"
    assert extras["ticket_url"] == "https://www.mercadopago.com.mx/payments/51096146182/ticket"
    assert extras["expires_at"] == "2026-01-04T00:00:00.000-04:00"
