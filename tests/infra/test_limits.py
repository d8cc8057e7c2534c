"""modules/limits: an inconsistent set of capacity limits fails `terraform plan`.

The module declares no provider, so real Terraform can init and plan it offline; the stack
passes its limits through it, so the same validations stop a plan of an environment.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import TERRAFORM_DIR

LIMITS = TERRAFORM_DIR / "modules" / "limits"


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed")
    work = tmp_path_factory.mktemp("limits")
    shutil.copy(LIMITS / "main.tf", work / "main.tf")
    subprocess.run([terraform, "init", "-input=false", "-no-color"], cwd=work, check=True,
                   capture_output=True, text=True, timeout=120)
    return work


def plan(work: Path, **values: object) -> subprocess.CompletedProcess[str]:
    (work / "test.tfvars.json").write_text(json.dumps(values))
    return subprocess.run(
        [shutil.which("terraform") or "terraform", "plan", "-input=false", "-no-color",
         "-lock=false", "-var-file=test.tfvars.json"],
        cwd=work, capture_output=True, text=True, timeout=120)


def test_the_defaults_and_the_documented_settings_plan(planner: Path) -> None:
    assert plan(planner).returncode == 0
    # docs/capacity.md's settings for 1 and 200 payments/s
    assert plan(planner, design_payments_per_second=1, fulfill_queue_dispatches_per_second=10,
                fulfill_queue_max_concurrent=20, merchant_events_dispatches_per_second=5,
                merchant_events_max_concurrent=5,
                max_instances={"create_payment": 2, "ipn_webhook": 2, "fulfill": 2},
                ).returncode == 0
    big = plan(planner, design_payments_per_second=200, fulfill_queue_dispatches_per_second=500,
               fulfill_queue_max_concurrent=1000, merchant_events_dispatches_per_second=250,
               merchant_events_max_concurrent=250,
               concurrency={"create_payment": 40, "ipn_webhook": 80, "fulfill": 40},
               max_instances={"create_payment": 20, "ipn_webhook": 10, "fulfill": 25})
    # 200 payments/s x 3 notifications needs 750 dispatches/s: above one queue's 500.
    assert big.returncode != 0
    assert "fulfill_queue_dispatches_per_second must be at least" in _flat(big.stderr)
    # ... which fits with two notifications per payment (docs/capacity.md, 200 payments/s)
    assert plan(planner, design_payments_per_second=200, notifications_per_payment=2,
                fulfill_queue_dispatches_per_second=500, fulfill_queue_max_concurrent=400,
                merchant_events_dispatches_per_second=250, merchant_events_max_concurrent=250,
                concurrency={"create_payment": 40, "ipn_webhook": 80, "fulfill": 40},
                max_instances={"create_payment": 20, "ipn_webhook": 10, "fulfill": 10},
                min_instances={"create_payment": 2, "ipn_webhook": 1, "fulfill": 1},
                ).returncode == 0


@pytest.mark.parametrize(("values", "message"), [
    ({"max_instances": {"create_payment": 10, "ipn_webhook": 10, "fulfill": 4}},
     "fulfill's max_instances x concurrency must be at least fulfill_queue_max_concurrent"),
    ({"fulfill_queue_dispatches_per_second": 40},
     "fulfill_queue_dispatches_per_second must be at least"),
    ({"fulfill_queue_dispatches_per_second": 600}, "at most 500"),
    ({"reconcile_time_budget_seconds": 290}, "at most reconcile_timeout_seconds - 30"),
    ({"reconcile_timeout_seconds": 1790}, "between 60 and 1780"),
    ({"unknown_payment_max_attempts": 11}, "between 1 and fulfill_max_attempts"),
    ({"min_instances": {"create_payment": 11, "ipn_webhook": 0, "fulfill": 0}},
     "each between 0 and its max_instances"),
    ({"concurrency": {"create_payment": 1, "ipn_webhook": 40, "fulfill": 20}},
     "create_payment's max_instances x concurrency must be at least"),
])
def test_an_inconsistent_set_fails_at_plan_time(planner: Path, values: dict[str, object],
                                                message: str) -> None:
    result = plan(planner, **values)
    assert result.returncode != 0
    assert message in _flat(result.stderr), result.stderr


def test_the_stack_takes_its_limits_from_the_module() -> None:
    stack = (TERRAFORM_DIR / "modules" / "stack" / "main.tf").read_text()
    assert 'source = "../limits"' in stack
    for fn in ("create_payment", "ipn_webhook", "fulfill"):
        assert f'concurrency     = local.limits.concurrency["{fn}"]' in stack
        assert f'max_instances   = local.limits.max_instances["{fn}"]' in stack
    assert re.search(r"fulfill_max_dispatches_per_second\s*=\s*local\.limits\.", stack)
    assert re.search(r"fulfill_max_concurrent_dispatches\s*=\s*local\.limits\.", stack)
    assert re.search(r"fulfill_function_max_attempts\s*=\s*tonumber\(local\.fulfill_attempts_env"
                     r"\.FULFILL_MAX_ATTEMPTS\)", stack)
    assert "RECONCILE_TIME_BUDGET_SECONDS     = tostring(local.limits." in stack


def _flat(text: str) -> str:
    """Terraform wraps its messages and draws a box: one line, no box characters."""
    return " ".join(line.strip(" │╷╵") for line in text.splitlines())
