"""The local stack serves each function with the gunicorn threads it is deployed with.

Terraform sets ``THREADS`` (functions-framework's gunicorn thread count) to each function's
request concurrency; locally, without it, functions-framework would run 4 threads per core,
which no deployed instance does."""

from __future__ import annotations

import re
from pathlib import Path

from local.stack import StackOptions, StackPorts, standard_services
from local.stack_config import FUNCTION_THREADS

TERRAFORM = Path(__file__).resolve().parents[2] / "infra" / "terraform" / "modules"


def _deployed_concurrency() -> dict[str, int]:
    limits = (TERRAFORM / "limits" / "main.tf").read_text()
    block = re.search(r'variable "concurrency" \{.*?default = \{(.*?)\}', limits, re.S)
    assert block is not None, "modules/limits declares no concurrency defaults"
    found = {name: int(value) for name, value in re.findall(r"(\w+)\s*=\s*(\d+)", block[1])}
    stack = (TERRAFORM / "stack" / "main.tf").read_text()
    reconcile = re.search(r'module "reconcile" \{.*?concurrency\s*=\s*(\d+)', stack, re.S)
    assert reconcile is not None, "modules/stack gives reconcile no concurrency"
    found["reconcile"] = int(reconcile[1])
    return found


def test_the_local_threads_are_the_deployed_concurrency() -> None:
    assert _deployed_concurrency() == FUNCTION_THREADS


def _threads(options: StackOptions) -> dict[str, str]:
    return {spec.name: spec.env.get("THREADS", "")
            for spec in standard_services(StackPorts(), options) if spec.name in FUNCTION_THREADS}


def test_each_function_process_gets_its_threads() -> None:
    assert _threads(StackOptions()) == {name: str(n) for name, n in FUNCTION_THREADS.items()}


def test_a_caller_may_still_choose_the_threads() -> None:
    assert set(_threads(StackOptions(function_env={"THREADS": "3"})).values()) == {"3"}
