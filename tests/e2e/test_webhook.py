"""ipn_webhook: signature, topics, methods, limits, named tasks."""

from __future__ import annotations

import time

import pytest

from tests.support.e2e_client import StackClient
from tests.support.waiting import wait_until

pytestmark = pytest.mark.e2e


def _queued(c: StackClient) -> int:
    view = c.tasks_view()
    return len(view.get("tasks", [])) + len(view.get("history", []))


def test_valid_notification_is_queued_and_redelivery_is_a_duplicate(live):
    c = StackClient(live)
    ts = int(time.time())
    r = c.notify("123456", notification_id=77, request_id="req-1", ts=ts)
    assert r.status_code == 200 and r.json() == {"status": "queued"}
    # The same signed request again, even with another (unsigned) body id: a duplicate.
    again = c.notify("123456", notification_id=78, request_id="req-1", ts=ts)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    later = c.notify("123456", notification_id=77, request_id="req-3")
    assert later.json() == {"status": "queued"}  # another notification for the same payment


@pytest.mark.parametrize("variant", ["unsigned", "wrong_secret", "stale", "tampered_id"])
def test_bad_signatures_are_401_and_enqueue_nothing(live, variant):
    c = StackClient(live)
    before = _queued(c)
    if variant == "unsigned":
        r = c.notify("555", sign=False)
    elif variant == "wrong_secret":
        r = c.notify("555", secret="not-the-secret")
    elif variant == "stale":
        r = c.notify("555", ts=int(time.time()) - 3600)
    else:
        r = c.notify("555", headers={"x-signature": "ts=1,v1=" + "0" * 64})
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_signature"
    assert _queued(c) == before


def test_millisecond_timestamp_is_accepted(live):
    c = StackClient(live)
    r = c.notify("999001", ts=int(time.time() * 1000))
    assert r.status_code == 200, r.text


def test_unhandled_topic_is_200_ignored(live):
    c = StackClient(live)
    before = _queued(c)
    r = c.notify("abc123", topic="subscription_preapproval")
    assert r.status_code == 200 and r.json() == {"status": "ignored"}
    assert _queued(c) == before


def test_non_post_405_oversized_and_malformed_400(live):
    c = StackClient(live)
    assert c.http.get(c.urls.ipn_webhook + "/", timeout=5).status_code == 405
    big = c.notify("777", headers={"Content-Length": "100"})  # sanity: header override ignored
    assert big.status_code == 200
    r = c.http.post(c.urls.ipn_webhook + "/", params={"data.id": "1", "type": "payment"},
                    data=b"x" * 70000, headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == "body_too_large"


def test_signed_but_malformed_body_is_400(live):
    c = StackClient(live)
    import uuid

    from local.stack import MP_WEBHOOK_SECRET
    from shared.adapters.mercadopago import webhooks

    rid, ts = str(uuid.uuid4()), str(int(time.time()))
    v1 = webhooks.sign(MP_WEBHOOK_SECRET, "42", rid, ts)
    r = c.http.post(c.urls.ipn_webhook + "/", params={"data.id": "42", "type": "payment"},
                    data=b"{broken", headers={"x-signature": f"ts={ts},v1={v1}",
                                              "x-request-id": rid,
                                              "Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"


def test_log_lines_are_structured_and_carry_no_payer_data(live):
    c = StackClient(live)
    c.notify("31337", notification_id=1, request_id="req-log-check")
    import json as _json

    def lines_of_the_request() -> list[dict]:
        whole = live.log_path("ipn_webhook").read_text().split("\n")[:-1]  # not a torn tail
        lines = [_json.loads(line) for line in whole if line.startswith("{")]
        return [rec for rec in lines if rec.get("request_id") == "req-log-check"]

    # the supervisor copies output to the log file: wait for the queued line to land there
    wait_until(lambda: any(rec.get("event") == "notification_queued"
                           for rec in lines_of_the_request()),
               10, "the notification_queued log line")
    mine = lines_of_the_request()
    assert mine and all({"severity", "message", "event"} <= set(rec) for rec in mine)
    assert any(rec["event"] == "notification_queued" and rec["resource_id"] == "31337"
               and rec["topic"] == "payment" for rec in mine)
