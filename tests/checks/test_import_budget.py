"""What each function loads at import (its cold start): modules its path never uses stay out,
and the product's dataclasses are records (``shared.domain.records``: no code compiled per
class, docs/performance.md "Import time of the functions")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.offline_env import OFFLINE_ENV

REPO = Path(__file__).resolve().parents[2]

ENV = OFFLINE_ENV  # every entry point loads; nothing is contacted at import

WEBHOOK_SIGNATURE = "shared.adapters.mercadopago.webhooks"
ID_TOKENS = "shared.adapters.idtoken"

# (function, CALLER_AUTH) -> modules it must not load at import.
NOT_LOADED = {
    ("fulfill", "off"): [WEBHOOK_SIGNATURE, ID_TOKENS],
    ("fulfill", "cloud_run_iam"): [WEBHOOK_SIGNATURE],
    ("reconcile", "off"): [WEBHOOK_SIGNATURE, ID_TOKENS],
    ("reconcile", "verify"): [WEBHOOK_SIGNATURE],
    ("create_payment", "cloud_run_iam"): [WEBHOOK_SIGNATURE, ID_TOKENS],
    ("ipn_webhook", "cloud_run_iam"): [ID_TOKENS],
}
# Modules a mode must load at import: a token check loads its checker before the first request.
LOADED = {
    ("fulfill", "cloud_run_iam"): [ID_TOKENS],
    ("reconcile", "verify"): [ID_TOKENS],
    # every accepted notification enqueues: its client library loads before gunicorn forks
    ("ipn_webhook", "cloud_run_iam"): ["google.cloud.tasks_v2",
                                        "google.cloud.tasks_v2.types.cloudtasks"],
}

_PROBE = """
import dataclasses, inspect, json, sys
import entry_{name}
own = [m for m in list(sys.modules) if m.startswith(("shared.", "functions."))]
compiled = []
for module_name in own:
    for value in list(vars(sys.modules[module_name]).values()):
        if (inspect.isclass(value) and dataclasses.is_dataclass(value)
                and value.__module__ == module_name
                and not value.__init__.__code__.co_filename.endswith("records.py")):
            compiled.append(module_name + "." + value.__qualname__)
print(json.dumps({{"modules": sorted(sys.modules), "compiled": sorted(compiled)}}))
"""


def _load(name: str, caller_auth: str) -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(ENV, CALLER_AUTH=caller_auth, PYTHONPATH=str(REPO))
    result = subprocess.run([sys.executable, "-c", _PROBE.format(name=name)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    loaded: dict[str, list[str]] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(("name", "caller_auth"), sorted(NOT_LOADED))
def test_a_function_loads_only_what_its_path_uses(name: str, caller_auth: str) -> None:
    loaded = _load(name, caller_auth)
    modules = set(loaded["modules"])
    assert [m for m in NOT_LOADED[name, caller_auth] if m in modules] == []
    assert [m for m in LOADED.get((name, caller_auth), []) if m not in modules] == []
    assert loaded["compiled"] == [], "dataclasses with compiled methods (use records)"
