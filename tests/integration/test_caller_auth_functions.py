"""fulfill and reconcile check their caller as CALLER_AUTH says: in-process (functions-framework's
test client) for each mode, and as real processes for the start-up refusal."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local.processes import free_ports
from local.stack import REPO_ROOT, find_functions_framework
from tests.support.functions import app_client, closed_port, reset_function_caches
from tests.support.idtokens import Minter, certs_server, unsigned
from tests.support.waiting import wait_until

FULFILL_AUD = "https://fulfill-123456789.us-central1.run.app"
RECONCILE_AUD = "https://reconcile-123456789.us-central1.run.app"
TASKS_SA = "tasks-invoker@demo-mp-local.iam.gserviceaccount.com"
SCHEDULER_SA = "scheduler@demo-mp-local.iam.gserviceaccount.com"
AUTH_ENV = {"FULFILL_AUTH_AUDIENCE": FULFILL_AUD, "FULFILL_ALLOWED_SERVICE_ACCOUNT": TASKS_SA,
            "RECONCILE_AUTH_AUDIENCE": RECONCILE_AUD,
            "RECONCILE_ALLOWED_SERVICE_ACCOUNT": SCHEDULER_SA}
CLEARED = ["CALLER_AUTH", *AUTH_ENV, "MP_ACCESS_TOKEN", "MERCHANT_WEBHOOK_URL", "MP_API_BASE_URL",
           "CLOUD_TASKS_EMULATOR_HOST", "ID_TOKEN_CERTS_URL", "LOG_LEVEL"]


@pytest.fixture
def client_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """A test client of fulfill or reconcile with exactly this environment. Nothing behind it
    answers (Firestore and Mercado Pago on closed ports, no access token): what follows an
    accepted caller is fulfill's ``not_configured`` outcome, reconcile's 503."""
    def build(name: str, **env: str) -> Any:
        for key in CLEARED:
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-mp-local")
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{closed_port()}")
        monkeypatch.setenv("MP_API_BASE_URL", f"http://127.0.0.1:{closed_port()}")
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_function_caches()
        return app_client(monkeypatch, name)

    yield build
    reset_function_caches()


@pytest.fixture(scope="module")
def minter() -> Minter:
    return Minter()


TASK = json.dumps({"topic": "payment", "resource_id": "1", "notification_id": "n-1"})


def _fulfil(client: Any, token: str | None, header: str = "Authorization") -> Any:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[header] = f"Bearer {token}"
    return client.post("/", data=TASK, headers=headers)


def _events(out: str, event: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def _passed_the_caller_check(r: Any) -> bool:
    """fulfill answers with its task outcome (here: not_configured, no access token) once the
    caller is accepted; a refused caller gets an error body instead."""
    body = r.get_json()
    return r.status_code not in (401, 403) and "result" in body


# -- cloud_run_iam ---------------------------------------------------------------------------
def test_fulfill_accepts_cloud_runs_stripped_token(client_for, minter, capsys):
    client = client_for("fulfill", CALLER_AUTH="cloud_run_iam", LOG_LEVEL="DEBUG", **AUTH_ENV)
    r = _fulfil(client, minter.stripped(FULFILL_AUD, TASKS_SA))
    assert _passed_the_caller_check(r), r.get_json()
    [accepted] = _events(capsys.readouterr().out, "caller_accepted")
    assert accepted["signature"] == "removed_by_google" and accepted["mode"] == "cloud_run_iam"


def test_fulfill_reads_the_header_cloud_run_verified(client_for, minter):
    client = client_for("fulfill", CALLER_AUTH="cloud_run_iam", **AUTH_ENV)
    r = client.post("/", data=TASK, headers={
        "Content-Type": "application/json",
        "X-Serverless-Authorization": f"Bearer {minter.stripped(FULFILL_AUD, TASKS_SA)}",
        "Authorization": "Bearer the-callers-own-credential"})
    assert _passed_the_caller_check(r), r.get_json()
    forged = unsigned({"aud": FULFILL_AUD, "email": TASKS_SA})
    r = client.post("/", data=TASK, headers={
        "Content-Type": "application/json", "X-Serverless-Authorization": "Bearer x.y.z",
        "Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


@pytest.mark.parametrize(("overrides", "status", "reason"), [
    ({"aud": RECONCILE_AUD}, 401, "wrong_audience"),
    ({"email": SCHEDULER_SA}, 403, "wrong_account"),
    ({"email_verified": False}, 403, "unverified_email"),
    ({"exp": 1_000_000_000}, 401, "expired"),  # 2001
    ({"iss": "https://evil.example"}, 401, "wrong_issuer"),
])
def test_fulfill_refuses_stripped_tokens_with_bad_claims(client_for, minter, capsys, overrides,
                                                         status, reason):
    client = client_for("fulfill", CALLER_AUTH="cloud_run_iam", **AUTH_ENV)
    r = _fulfil(client, minter.stripped(FULFILL_AUD, TASKS_SA, **overrides))
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == ("unauthenticated" if status == 401 else "forbidden")
    [rejected] = _events(capsys.readouterr().out, "caller_rejected")
    assert rejected["reason"] == reason and rejected["function"] == "fulfill"


def test_cloud_run_iam_still_verifies_a_real_signature(client_for, minter):
    with certs_server(Minter().certs()) as other_keys:  # not the key that signed the token
        client = client_for("fulfill", CALLER_AUTH="cloud_run_iam", ID_TOKEN_CERTS_URL=other_keys.url,
                            **AUTH_ENV)
        assert _fulfil(client, minter.token(FULFILL_AUD, TASKS_SA)).status_code == 401
    with certs_server(minter.certs()) as keys:
        client = client_for("fulfill", CALLER_AUTH="cloud_run_iam", ID_TOKEN_CERTS_URL=keys.url,
                            **AUTH_ENV)
        assert _passed_the_caller_check(_fulfil(client, minter.token(FULFILL_AUD, TASKS_SA)))


def test_reconcile_accepts_the_schedulers_stripped_token_and_logs_refusals(client_for, minter,
                                                                          capsys):
    client = client_for("reconcile", CALLER_AUTH="cloud_run_iam", **AUTH_ENV)
    ok = client.post("/", json={}, headers={
        "Authorization": f"Bearer {minter.stripped(RECONCILE_AUD, SCHEDULER_SA)}"})
    assert ok.status_code == 503 and ok.get_json()["error"]["code"] == "reconcile_failed", ok.get_json()
    wrong = client.post("/", json={}, headers={
        "Authorization": f"Bearer {minter.stripped(RECONCILE_AUD, TASKS_SA)}"})
    assert wrong.status_code == 403
    [rejected] = _events(capsys.readouterr().out, "caller_rejected")
    assert rejected["reason"] == "wrong_account" and rejected["function"] == "reconcile"


# -- verify ----------------------------------------------------------------------------------
def test_verify_mode_refuses_stripped_tokens_and_accepts_signed_ones(client_for, minter, capsys):
    with certs_server(minter.certs()) as keys:
        client = client_for("fulfill", CALLER_AUTH="verify", ID_TOKEN_CERTS_URL=keys.url,
                            **AUTH_ENV)
        assert _passed_the_caller_check(_fulfil(client, minter.token(FULFILL_AUD, TASKS_SA)))
        r = _fulfil(client, minter.stripped(FULFILL_AUD, TASKS_SA))
        assert r.status_code == 401
        [rejected] = _events(capsys.readouterr().out, "caller_rejected")
        assert rejected["reason"] == "signature_removed"
        client = client_for("reconcile", CALLER_AUTH="verify", ID_TOKEN_CERTS_URL=keys.url,
                            **AUTH_ENV)
        r = client.post("/", json={}, headers={
            "Authorization": f"Bearer {minter.stripped(RECONCILE_AUD, SCHEDULER_SA)}"})
        assert r.status_code == 401


def test_a_certs_outage_is_a_503_with_its_own_log_event(client_for, minter, capsys):
    client = client_for("fulfill", CALLER_AUTH="verify",
                        ID_TOKEN_CERTS_URL=f"http://127.0.0.1:{closed_port()}/certs", **AUTH_ENV)
    r = _fulfil(client, minter.token(FULFILL_AUD, TASKS_SA))
    assert r.status_code == 503  # Cloud Tasks retries
    assert r.get_json()["error"]["code"] == "caller_check_unavailable"
    out = capsys.readouterr().out
    assert _events(out, "id_token_certs_unavailable") and not _events(out, "caller_rejected")


# -- misconfiguration: never serve an unauthenticated request ---------------------------------
def test_a_caller_check_that_cannot_run_refuses_every_request(client_for, minter, capsys):
    client_for("fulfill", CALLER_AUTH="cloud_run_iam", **AUTH_ENV)  # the module is loaded
    client = client_for("fulfill", CALLER_AUTH="cloud_run_iam")  # then the audience goes away
    r = _fulfil(client, minter.stripped(FULFILL_AUD, TASKS_SA))
    assert r.status_code == 503 and r.get_json()["error"]["code"] == "not_configured"
    assert _events(capsys.readouterr().out, "caller_auth_misconfigured")
    assert _fulfil(client, None).status_code == 503


def _start(name: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_ports(1)[0]
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [find_functions_framework(), f"--target={name}", f"--source=entry_{name}.py",
             "--host=127.0.0.1", f"--port={port}"],
            cwd=REPO_ROOT, env={**keep, "PYTHONPATH": str(REPO_ROOT), "NO_GCE_CHECK": "true",
                                "GOOGLE_CLOUD_PROJECT": "demo-mp-local", **env},
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, port


def _serves(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize(("name", "env", "missing"), [
    ("fulfill", {}, "FULFILL_AUTH_AUDIENCE"),
    ("fulfill", {"CALLER_AUTH": "cloud_run_iam", "FULFILL_AUTH_AUDIENCE": FULFILL_AUD},
     "FULFILL_ALLOWED_SERVICE_ACCOUNT"),
    ("reconcile", {"CALLER_AUTH": "verify", "RECONCILE_ALLOWED_SERVICE_ACCOUNT": SCHEDULER_SA},
     "RECONCILE_AUTH_AUDIENCE"),
    ("fulfill", {"CALLER_AUTH": "off", "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9"}, "CALLER_AUTH=off"),
])
def test_a_misconfigured_caller_check_stops_the_function_at_start(tmp_path, name, env, missing):
    log = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.log"
    proc, port = _start(name, env, log)
    try:
        def stopped() -> bool:
            if proc.poll() is not None:
                return True
            assert not _serves(port), f"{name} serves without a caller check:\n{log.read_text()}"
            return False

        wait_until(stopped, 60, f"{name} to stop at start")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    text = log.read_text()
    [line] = [json.loads(x) for x in text.splitlines() if '"caller_auth_misconfigured"' in x]
    assert line["severity"] == "CRITICAL" and missing in line["message"], text
