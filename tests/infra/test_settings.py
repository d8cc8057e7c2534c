"""The functions' environment in the Terraform, checked against shared.platform.config.Settings, offline.

`terraform console` would need the Google provider, which cannot be downloaded here. Instead
tools/tf_function_env.py reads each function's environment block with python-hcl2 (in the
tfschema venv, where it is installed) and this test compares it with what the code reads:

- no unknown variable (a misspelt name is silently ignored by Settings: its default applies);
- every setting without a default, and what each function needs to do its work, is present;
- the literal values parse (e.g. CALLER_AUTH is one of its choices);
- one fulfil audience: FULFILL_URL and FULFILL_AUTH_AUDIENCE are the same value wherever they
  are set, and the reconcile job's target and audience are the value reconcile checks.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from shared.platform.config import ConfigError, Settings

from .conftest import REPO, TERRAFORM_DIR, TFSCHEMA_PYTHON, require

TOOL = REPO / "tools" / "tf_function_env.py"

# Read outside Settings, on purpose: gunicorn's thread count (functions-framework reads THREADS;
# the module sets it = concurrency).
READ_OUTSIDE_SETTINGS = {"THREADS"}

# What each deployed function needs to do its work (beyond the settings without a default).
NEEDED = {
    "create_payment": {"FIRESTORE_DATABASE", "NOTIFICATION_URL", "MP_ACCESS_TOKEN_FILE",
                       "RATE_LIMIT_KEY_FILE"},
    "ipn_webhook": {
        "FULFILL_URL", "FULFILL_QUEUE", "TASKS_LOCATION", "TASKS_SERVICE_ACCOUNT",
        "MP_WEBHOOK_SECRET_FILE", "MP_WEBHOOK_SECRET_PREVIOUS_FILE",
    },
    "fulfill": {
        "FIRESTORE_DATABASE", "CALLER_AUTH", "FULFILL_AUTH_AUDIENCE",
        "FULFILL_ALLOWED_SERVICE_ACCOUNT", "FULFILL_MAX_ATTEMPTS", "MERCHANT_EVENTS_QUEUE",
        "TASKS_LOCATION", "MP_ACCESS_TOKEN_FILE", "MERCHANT_WEBHOOK_SECRET_FILE",
    },
    "reconcile": {
        "FIRESTORE_DATABASE", "CALLER_AUTH", "RECONCILE_AUTH_AUDIENCE",
        "RECONCILE_ALLOWED_SERVICE_ACCOUNT", "FULFILL_URL", "FULFILL_QUEUE", "TASKS_LOCATION",
        "TASKS_SERVICE_ACCOUNT", "MP_ACCESS_TOKEN_FILE",
    },
}
# Deployed, fulfill and reconcile leave the signature check to Cloud Run's IAM check.
DEPLOYED_CALLER_AUTH = {"fulfill": "cloud_run_iam", "reconcile": "cloud_run_iam"}


class _Recorder(Mapping[str, str]):
    """An environment that remembers every name the code asks for."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)
        self.asked: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return self.values.get(key, default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def names_settings_read() -> set[str]:
    """Every variable Settings.from_env reads (secrets: NAME, NAME_FILE, NAME_SECRET)."""
    env = _Recorder({"GOOGLE_CLOUD_PROJECT": "p"})
    Settings.from_env(env)
    return env.asked


def required_names() -> list[str]:
    """The variables without which Settings.from_env refuses to start ("X is not set")."""
    env: dict[str, str] = {}
    required: list[str] = []
    for _ in range(20):
        try:
            Settings.from_env(env)
            return required
        except ConfigError as err:
            match = re.match(r"(\w+) is not set", str(err))
            assert match, f"unexpected error on a minimal environment: {err}"
            required.append(match.group(1))
            env[match.group(1)] = "placeholder"
    raise AssertionError(f"Settings keeps asking for more: {required}")


def _resolve(expr: str, locals_: Mapping[str, Any]) -> str:
    """`local.x` -> its value when it is a plain local; anything else unchanged."""
    seen = 0
    while (m := re.fullmatch(r"local\.(\w+)", expr)) and m.group(1) in locals_ and seen < 10:
        expr, seen = str(locals_[m.group(1)]), seen + 1
    return expr


_EXPRESSION = re.compile(r"^(var|local|module|data|each|count|path)\.|^\w+\(|^\(|\$\{")


def _is_literal(expr: str) -> bool:
    """A value Terraform passes as written (no reference, function call or template)."""
    return not _EXPRESSION.search(expr)


def problems(report: dict[str, Any]) -> list[str]:
    found: list[str] = []
    known = names_settings_read() | READ_OUTSIDE_SETTINGS
    required = required_names()
    functions: dict[str, Any] = report["functions"]
    locals_: dict[str, Any] = report["locals"]
    if set(functions) != set(NEEDED):
        found.append(f"deployed functions {sorted(functions)} differ from {sorted(NEEDED)}")

    for name, fn in sorted(functions.items()):
        env: dict[str, str] = fn["env"]
        for var in sorted(set(env) - known):
            found.append(f"{name}: {var} is not a variable the code reads")
        for var in required:
            if var not in env or var in fn["optional"]:
                found.append(f"{name}: {var} (a setting without a default) is not set")
        for var in sorted(NEEDED.get(name, set()) - set(env)):
            found.append(f"{name}: {var} is missing")
        # Values written literally must be valid settings.
        literal = {k: _resolve(v, locals_) for k, v in env.items()}
        literal = {k: v for k, v in literal.items() if k in known and _is_literal(v)}
        try:
            Settings.from_env({"GOOGLE_CLOUD_PROJECT": "p", **literal})
        except ConfigError as err:
            found.append(f"{name}: {err}")
        if name in DEPLOYED_CALLER_AUTH:
            value = _resolve(env.get("CALLER_AUTH", ""), locals_)
            if value != DEPLOYED_CALLER_AUTH[name]:
                found.append(f"{name}: CALLER_AUTH is {value!r}, expected {DEPLOYED_CALLER_AUTH[name]!r}")

    # One fulfil audience: what fulfill checks, what every enqueuer targets and signs for.
    audiences = {
        f"{name}.{var}": fn["env"][var]
        for name, fn in functions.items()
        for var in ("FULFILL_URL", "FULFILL_AUTH_AUDIENCE")
        if var in fn["env"]
    }
    expected = functions.get("fulfill", {}).get("env", {}).get("FULFILL_AUTH_AUDIENCE")
    for where, expr in sorted(audiences.items()):
        if expr != expected:
            found.append(f"{where} = {expr}, but fulfill checks the audience {expected}")
    for name, fn in functions.items():
        env = fn["env"]
        if "FULFILL_URL" in env and env.get("FULFILL_AUTH_AUDIENCE", env["FULFILL_URL"]) != expected:
            found.append(f"{name}: its fulfil tasks' token audience is not {expected}")

    reconcile_audience = functions.get("reconcile", {}).get("env", {}).get("RECONCILE_AUTH_AUDIENCE")
    for key in ("reconcile.uri", "reconcile.audience"):
        if report["scheduler"].get(key) != reconcile_audience:
            found.append(
                f"scheduler job {key} = {report['scheduler'].get(key)}, "
                f"but reconcile checks {reconcile_audience}"
            )
    return found


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    python = require(TFSCHEMA_PYTHON, "the tfschema venv (has python-hcl2)")
    result = subprocess.run(
        [str(python), str(TOOL), str(TERRAFORM_DIR)], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout))


def test_terraform_environment_matches_the_settings(report: dict[str, Any]) -> None:
    assert problems(report) == []


def test_the_settings_reader_sees_what_the_code_reads() -> None:
    read = names_settings_read()
    assert {"GOOGLE_CLOUD_PROJECT", "FULFILL_URL", "CALLER_AUTH", "MP_ACCESS_TOKEN_FILE"} <= read
    assert required_names() == ["GOOGLE_CLOUD_PROJECT"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r["functions"]["fulfill"]["env"].update(FULFILL_AUDIENCE="local.fulfill_url"),
         "fulfill: FULFILL_AUDIENCE is not a variable the code reads"),
        (lambda r: r["functions"]["ipn_webhook"]["env"].pop("GOOGLE_CLOUD_PROJECT"),
         "ipn_webhook: GOOGLE_CLOUD_PROJECT (a setting without a default) is not set"),
        (lambda r: r["functions"]["ipn_webhook"]["env"].update(FULFILL_URL="module.fulfill.uri"),
         "ipn_webhook.FULFILL_URL = module.fulfill.uri, but fulfill checks the audience local.fulfill_url"),
        (lambda r: r["functions"]["reconcile"]["env"].update(CALLER_AUTH="cloud-run-iam"),
         "reconcile: CALLER_AUTH must be one of"),
        (lambda r: r["functions"]["fulfill"]["env"].pop("CALLER_AUTH"),
         "fulfill: CALLER_AUTH is missing"),
        (lambda r: r["scheduler"].update({"reconcile.audience": "module.reconcile.uri"}),
         "scheduler job reconcile.audience = module.reconcile.uri"),
        (lambda r: r["functions"]["reconcile"]["env"].update(RECONCILE_MAX_ITEMS="lots"),
         "reconcile: RECONCILE_MAX_ITEMS must be an integer"),
    ],
)
def test_the_check_catches(report: dict[str, Any], change: Any, message: str) -> None:
    doctored = copy.deepcopy(report)
    change(doctored)
    found = problems(doctored)
    assert any(message in p for p in found), found
