"""Mercado Pago's approval-rate inputs: the client IP, the settings, and the payment body."""

from __future__ import annotations

from decimal import Decimal

import flask
import pytest

from shared.adapters.mercadopago.gateway import _approval_inputs
from shared.adapters.mercadopago.requests import PayerInfo, PaymentRequest
from shared.platform.config import ConfigError, Settings
from shared.platform.web import client_ip

app = flask.Flask(__name__)


def _request(xff: list[str] | None = None, peer: str = "10.0.0.9") -> flask.Request:
    headers = [("X-Forwarded-For", v) for v in (xff or [])]
    with app.test_request_context("/", headers=headers,
                                  environ_base={"REMOTE_ADDR": peer}) as ctx:
        return ctx.request


@pytest.mark.parametrize(("xff", "hops", "expected"), [
    (["203.0.113.7"], 1, "203.0.113.7"),  # Cloud Run appended the connecting address
    (["1.1.1.1, 203.0.113.7"], 1, "203.0.113.7"),  # a forged left entry is ignored
    (["1.1.1.1, 203.0.113.7, 130.211.0.1"], 2, "203.0.113.7"),  # behind a load balancer
    (["1.1.1.1", "203.0.113.7"], 1, "203.0.113.7"),  # repeated headers are one list
    (["203.0.113.7"], 0, "10.0.0.9"),  # header not trusted
    ([], 1, "10.0.0.9"),  # no header: the peer
    (["203.0.113.7"], 2, "10.0.0.9"),  # fewer entries than hops: the peer
    (["not-an-ip"], 1, "10.0.0.9"),
    (["2001:db8::1"], 1, "2001:db8::1"),
])
def test_client_ip_takes_the_entry_our_infrastructure_appended(xff, hops, expected):
    assert client_ip(_request(xff), hops) == expected


def test_settings_for_the_descriptor_binary_mode_and_hops():
    base = {"GOOGLE_CLOUD_PROJECT": "p"}
    s = Settings.from_env(base)
    assert (s.statement_descriptor, s.binary_mode, s.client_ip_trusted_hops) == ("", False, 1)
    s = Settings.from_env(base | {"STATEMENT_DESCRIPTOR": "DEMO SHOP", "BINARY_MODE": "true",
                                  "CLIENT_IP_TRUSTED_HOPS": "2"})
    assert (s.statement_descriptor, s.binary_mode, s.client_ip_trusted_hops) == \
        ("DEMO SHOP", True, 2)
    with pytest.raises(ConfigError):
        Settings.from_env(base | {"STATEMENT_DESCRIPTOR": "X" * 23})
    with pytest.raises(ConfigError):
        Settings.from_env(base | {"BINARY_MODE": "maybe"})


def test_payment_body_carries_items_payer_ip_descriptor_and_binary_mode():
    payer = PayerInfo(email="buyer@example.com", first_name="Ana", last_name="Souza",
                      address={"zip_code": "06233200", "street_name": "Av. X",
                               "street_number": "3003", "neighborhood": "B", "city": "C",
                               "federal_unit": "SP"},
                      phone={"area_code": "11", "number": "987654321"})
    request = PaymentRequest(
        amount=Decimal("200.00"), description="2x Demo", payment_method_id="master", payer=payer,
        external_reference="ord_1", notification_url="https://n", idempotency_key="k",
        additional_items=({"id": "demo-product", "title": "Demo", "quantity": 2,
                           "unit_price": Decimal("100.00"), "category_id": "others"},),
        ip_address="203.0.113.7", statement_descriptor="DEMO SHOP", binary_mode=True)
    assert _approval_inputs(request) == {
        "additional_info": {
            "items": [{"id": "demo-product", "title": "Demo", "quantity": 2, "unit_price": 100,
                       "category_id": "others"}],
            "payer": {"first_name": "Ana", "last_name": "Souza",
                      "phone": {"area_code": "11", "number": "987654321"},
                      "address": {"zip_code": "06233200", "street_name": "Av. X",
                                  "street_number": "3003"}},
            "ip_address": "203.0.113.7",
        },
        "statement_descriptor": "DEMO SHOP",
        "binary_mode": True,
    }
    bare = PaymentRequest(amount=Decimal("1"), description="d", payment_method_id="pix",
                          payer=PayerInfo(email="b@example.com"), external_reference="o",
                          notification_url="https://n", idempotency_key="k")
    assert _approval_inputs(bare) == {}
