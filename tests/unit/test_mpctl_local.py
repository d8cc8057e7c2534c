"""mpctl finds the local stack from make dev's .local-run/stack.json, and says so when there
is none; without --local and without configuration it points at --local."""

from __future__ import annotations

import json
import os

import pytest

from mpctl.cli import main


@pytest.fixture
def bare_env(monkeypatch):
    from shared.platform import log

    monkeypatch.setattr(log, "_stream", None)  # main() redirects the log; undone afterwards
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    for name in list(os.environ):
        if name.endswith("_PORT") or name in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "MPCTL_LOCAL"):
            monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_configuration_it_says_to_use_local(bare_env, capsys):
    assert main(["order", "show", "ord_x"]) == 1
    assert "--local" in capsys.readouterr().err


def test_local_without_a_running_stack_says_so(bare_env, tmp_path, capsys):
    bare_env.setenv("LOCAL_STACK_FILE", str(tmp_path / "stack.json"))
    assert main(["--local", "order", "show", "ord_x"]) == 1
    assert "no local stack is running" in capsys.readouterr().err


def test_local_with_a_stale_stack_file_says_so(bare_env, tmp_path, capsys):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"pid": int(gone.stdout), "ports": {"create_payment": 1}}))
    bare_env.setenv("LOCAL_STACK_FILE", str(stack_file))
    assert main(["--local", "order", "show", "ord_x"]) == 1
    assert "no local stack is running" in capsys.readouterr().err


def test_local_takes_the_ports_of_the_running_stack(bare_env, tmp_path):
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"pid": os.getpid(), "ports": {
        "create_payment": 9181, "ipn_webhook": 9182, "fulfill": 9183, "reconcile": 9184,
        "simulator": 9190, "firestore": 9185, "tasks_grpc": 9123, "tasks_http": 9124,
        "storefront": 9180}}))
    bare_env.setenv("LOCAL_STACK_FILE", str(stack_file))
    from unittest import mock

    from mpctl.cli import _use_local_stack

    with mock.patch.dict(os.environ):  # everything it sets is undone after the test
        for name in ("FIRESTORE_EMULATOR_HOST", "MP_API_BASE_URL", "FULFILL_URL"):
            os.environ.pop(name, None)
        _use_local_stack()
        assert os.environ["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:9185"
        assert os.environ["MP_API_BASE_URL"] == "http://127.0.0.1:9190"
        assert os.environ["FULFILL_URL"] == "http://127.0.0.1:9183"


def test_local_wins_over_endpoints_inherited_from_the_shell(bare_env, tmp_path):
    """A shell (or a test run) that still names another emulator must not redirect --local."""
    stack_file = tmp_path / "stack.json"
    stack_file.write_text(json.dumps({"pid": os.getpid(), "ports": {
        "create_payment": 9181, "ipn_webhook": 9182, "fulfill": 9183, "reconcile": 9184,
        "simulator": 9190, "firestore": 9185, "tasks_grpc": 9123, "tasks_http": 9124,
        "storefront": 9180}}))
    bare_env.setenv("LOCAL_STACK_FILE", str(stack_file))
    from unittest import mock

    from mpctl.cli import _use_local_stack

    with mock.patch.dict(os.environ):
        os.environ["FIRESTORE_EMULATOR_HOST"] = "127.0.0.1:1"  # a stack that is gone
        os.environ["MP_API_BASE_URL"] = "http://127.0.0.1:2"
        os.environ["LOG_LEVEL"] = "WARNING"  # a plain setting still comes from the shell
        _use_local_stack()
        assert os.environ["FIRESTORE_EMULATOR_HOST"] == "127.0.0.1:9185"
        assert os.environ["MP_API_BASE_URL"] == "http://127.0.0.1:9190"
        assert os.environ["LOG_LEVEL"] == "WARNING"
