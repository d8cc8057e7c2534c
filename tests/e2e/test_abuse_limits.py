"""Card testing against the running stack: a burst of attempts on one order reaches Mercado
Pago at most MAX_ATTEMPTS_PER_ORDER times (counted at the simulator); the rest are 429."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from local.stack import LOCAL_LIMITS
from tests.support.e2e_client import StackClient

pytestmark = pytest.mark.e2e

BURST = 40


def test_a_burst_on_one_order_reaches_mercado_pago_at_most_the_cap(live):
    cap = int(LOCAL_LIMITS["MAX_ATTEMPTS_PER_ORDER"])
    c = StackClient(live)
    first = c.pay(holder="FUND")  # declined: the order stays payable
    assert first.status_code == 201, first.text
    order_id = first.json()["order_id"]
    assert first.json()["status_detail"] == "cc_rejected_insufficient_amount"
    tokens = [c.card_token("FUND") for _ in range(BURST)]

    def attempt(token: str) -> requests.Response:
        return requests.post(live.endpoints.create_payment + "/",
                             json=c.body(token, order_id=order_id), timeout=60)

    with ThreadPoolExecutor(max_workers=BURST) as pool:
        answers = list(pool.map(attempt, tokens))

    statuses = [a.status_code for a in answers]
    assert all(s < 500 for s in statuses), [a.text for a in answers if a.status_code >= 500]
    charged = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 429]
    assert len(charged) + len(refused) == BURST, statuses
    assert len(charged) == cap - 1  # the order's first attempt was one of its five
    for a in refused:
        assert a.json()["error"]["code"] == "too_many_attempts"
        assert "Retry-After" not in a.headers
    for a in charged:  # Mercado Pago's buyer message stays in the answer
        assert a.json()["status_detail"] == "cc_rejected_insufficient_amount"
    assert len(c.sim_payments_for(order_id)) == cap

    # the order is at its cap: another card attempt is refused before Mercado Pago
    late = attempt(c.card_token("APRO"))
    assert late.status_code == 429 and late.json()["error"]["code"] == "too_many_attempts"
    assert len(c.sim_payments_for(order_id)) == cap
