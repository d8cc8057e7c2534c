"""fulfill and reconcile run as in production: behind a front end that checks the ID token as
Cloud Run's IAM check does and forwards it with its signature removed."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.stack import SCHEDULER_SERVICE_ACCOUNT, TASKS_SERVICE_ACCOUNT
from tests.support.e2e_client import StackClient
from tests.support.idtokens import unsigned

pytestmark = pytest.mark.e2e


def _claims(audience: str, email: str) -> dict[str, Any]:
    now = int(time.time())
    return {"aud": audience, "email": email, "email_verified": True, "sub": "1", "azp": "1",
            "iss": "https://accounts.google.com", "iat": now, "exp": now + 600}


def _frontend_lines(live: Any) -> list[dict[str, Any]]:
    text = live.log_path("run_frontend").read_text()
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


TASK = json.dumps({"topic": "payment", "resource_id": "1", "notification_id": "forged"})


def test_a_forged_stripped_token_is_refused_at_the_public_ports(live):
    c = StackClient(live)
    for url, email in ((c.urls.fulfill, TASKS_SERVICE_ACCOUNT),
                       (c.urls.reconcile, SCHEDULER_SERVICE_ACCOUNT)):
        forged = unsigned(_claims(url, email))  # perfect claims, no signature
        for header in ("Authorization", "X-Serverless-Authorization"):
            r = c.http.post(url + "/", data=TASK, timeout=10, headers={
                header: f"Bearer {forged}", "Content-Type": "application/json"})
            assert r.status_code == 401, (url, header, r.text)
        assert c.http.post(url + "/", data=TASK, timeout=10).status_code == 401  # no token
    refused = [x for x in _frontend_lines(live) if x.get("event") == "caller_refused"]
    assert {x["service"] for x in refused} >= {"fulfill", "reconcile"}
    assert not [x for x in _frontend_lines(live) if x.get("event") == "forwarded"
                and x.get("path") == "/" and x.get("status") == 200 and x.get("method") == "POST"
                and "forged" in json.dumps(x)]


def test_the_function_behind_the_front_end_checks_the_claims_it_is_given(live):
    """The function's own port stands for the container: it trusts the marker (Cloud Run checked
    the signature) but still checks audience and account."""
    c = StackClient(live)
    internal = c.urls.fulfill_internal
    wrong = unsigned(_claims(c.urls.fulfill, SCHEDULER_SERVICE_ACCOUNT))
    r = c.http.post(internal + "/", data=TASK, timeout=10,
                    headers={"Authorization": f"Bearer {wrong}", "Content-Type": "application/json"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    right = unsigned(_claims(c.urls.fulfill, TASKS_SERVICE_ACCOUNT))
    r = c.http.post(internal + "/", data=b"{not a task", timeout=10,
                    headers={"Authorization": f"Bearer {right}", "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["reason"] == "malformed_task"


def test_the_payment_flow_reaches_fulfill_through_the_front_end(live):
    c = StackClient(live)
    answer = c.pay().json()
    c.wait_order(answer["order_id"], "paid")

    def forwarded() -> list[dict[str, Any]]:  # logged once fulfill has answered
        return [x for x in _frontend_lines(live)
                if x.get("event") == "forwarded" and x.get("service") == "fulfill"]

    c.wait_for(lambda: any(x["status"] == 200 for x in forwarded()), what="a forwarded task")
    assert all(x["signature"] == "removed_by_google" for x in forwarded())
    fulfill_log = live.log_path("fulfill").read_text()
    accepted = [json.loads(x) for x in fulfill_log.splitlines() if '"caller_accepted"' in x]
    assert accepted and {a["signature"] for a in accepted} == {"removed_by_google"}
    assert {a["mode"] for a in accepted} == {"cloud_run_iam"}
