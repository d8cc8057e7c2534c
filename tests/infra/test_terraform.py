"""Offline checks of infra/terraform: fmt, provider schema, checkov."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import CHECKOV_BIN, FIXTURES, REPO, TERRAFORM_DIR, TFSCHEMA_PYTHON, require

SCHEMA_TOOL = REPO / "tools" / "tfschema_check.py"
SCHEMA_CACHE = REPO / "build" / "tfschema" / "google-schema.json"


def run_schema_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    python = require(TFSCHEMA_PYTHON, "the tfschema venv")
    return subprocess.run(
        [str(python), str(SCHEMA_TOOL), "--schema-cache", str(SCHEMA_CACHE), *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}{result.stderr}"


def test_real_tree_matches_provider_schema() -> None:
    result = run_schema_check(TERRAFORM_DIR)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "google provider 6.50.0" in result.stderr
    assert "time provider 0.13.1" in result.stderr


# Each fixture holds one mistake; the schema check must fail on it with this message.
FIXTURE_CASES = {
    "misspelt_argument": 'unknown argument "entry_pont"',
    "missing_required_argument": 'missing required argument "location"',
    "unknown_block": 'unknown block "secret_volume"',
    "unknown_dynamic_block": 'dynamic block of unknown block type "secret_volume"',
    "block_as_argument": '"ttl_config" is a block, not an argument',
    "unknown_resource_type": 'unknown resource type "google_cloudfunction2_function"',
    "wrong_module_input": 'module has no variable "memroy"',
    "missing_module_input": 'required module variable "name" is not given',
    "misspelt_time_argument": 'time_sleep.wait: unknown argument "create_durations"',
    "unpinned_time_provider": 'provider "time" must be pinned to 0.13.1',
}


@pytest.mark.parametrize("case", sorted(FIXTURE_CASES))
def test_schema_check_catches(case: str) -> None:
    result = run_schema_check(FIXTURES / case)
    assert result.returncode == 1, f"{case} passed the schema check:\n{result.stdout}"
    assert FIXTURE_CASES[case] in result.stdout, result.stdout


def test_every_fixture_is_exercised() -> None:
    on_disk = {p.name for p in FIXTURES.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert on_disk == set(FIXTURE_CASES)


def test_checkov_no_failed_check() -> None:
    checkov = require(CHECKOV_BIN, "the checkov venv")
    result = subprocess.run(
        [
            str(checkov),
            "-d",
            str(TERRAFORM_DIR),
            "--framework",
            "terraform",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    assert not failed, "\n".join(
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in failed
    )
    skipped = [c for r in reports for c in r["results"]["skipped_checks"]]
    for c in skipped:
        reason = c.get("check_result", {}).get("suppress_comment", "")
        assert len(reason.strip()) > 20, f"skip of {c['check_id']} on {c['resource']} has no reason"
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_fulfill_max_attempts_is_one_variable() -> None:
    """The queue's max_attempts and fulfill's FULFILL_MAX_ATTEMPTS come from one variable."""
    stack = (TERRAFORM_DIR / "modules" / "stack" / "main.tf").read_text()
    queues = (TERRAFORM_DIR / "modules" / "queues" / "main.tf").read_text()
    assert re.search(r"\bfulfill_max_attempts\s*=\s*var\.fulfill_max_attempts\b", stack)
    assert re.search(r"FULFILL_MAX_ATTEMPTS\s*=\s*tostring\(var\.fulfill_max_attempts\)", stack)
    assert re.search(r"\bmax_attempts\s*=\s*var\.fulfill_max_attempts\b", queues)


def _stack_text() -> str:
    return (TERRAFORM_DIR / "modules" / "stack" / "main.tf").read_text()


def _module_block(text: str, name: str) -> str:
    start = text.index(f'module "{name}" {{')
    end = text.index("\n}\n", start)
    return text[start:end]


def test_deployed_functions_agree() -> None:
    """The stack's function modules, its `packages` validation and the packaging test agree."""
    from .test_package import DEPLOYED

    stack = _stack_text()
    variables = (TERRAFORM_DIR / "modules" / "stack" / "variables.tf").read_text()
    modules = re.findall(r'module "(\w+)" \{\n  source = "\.\./function"', stack)
    match = re.search(r"for f in \[([^\]]*)\] : contains\(keys\(var\.packages\)", variables)
    assert match, "packages validation not found"
    validated = re.findall(r'"(\w+)"', match.group(1))
    assert sorted(modules) == sorted(validated) == sorted(DEPLOYED)
    for name in modules:
        assert f'package           = var.packages["{name}"]' in _module_block(stack, name), name


def test_reconcile_is_scheduler_only() -> None:
    """reconcile: invoked by the scheduler account only, the job's token audience is the one
    reconcile checks, and the job waits at least the function's timeout."""
    stack = _stack_text()
    block = _module_block(stack, "reconcile")
    invokers = re.search(r"invokers = \{\n(.*?)\n  \}", block, re.DOTALL)
    assert invokers
    assert re.findall(r"=\s*(.+)", invokers.group(1)) == [
        '"serviceAccount:${module.identities.scheduler_email}"'
    ]
    assert re.search(r"public\s*=\s*false", block)
    assert re.search(r"max_instances\s*=\s*1\b", block)
    assert re.search(r"RECONCILE_AUTH_AUDIENCE\s*=\s*local\.reconcile_url\b", block)
    assert re.search(r"RECONCILE_ALLOWED_SERVICE_ACCOUNT\s*=\s*module\.identities\.scheduler_email", block)
    assert re.search(r"timeout_seconds\s*=\s*local\.reconcile_timeout_seconds", block)
    job = stack[stack.index('resource "google_cloud_scheduler_job" "reconcile"') :]
    assert re.search(r"audience\s*=\s*local\.reconcile_url\b", job)
    assert re.search(r"\buri\s*=\s*local\.reconcile_url\b", job)
    assert re.search(r"service_account_email\s*=\s*module\.identities\.scheduler_email", job)
    assert re.search(r'attempt_deadline\s*=\s*"\$\{local\.reconcile_timeout_seconds \+ \d+\}s"', job)
    assert re.search(r"schedule\s*=\s*var\.reconcile_schedule", job)


def test_no_audience_is_papered_over_by_a_check_block() -> None:
    """One audience, derived once: no `check` comparing a predicted URL with the reported one,
    and no function's reported `uri` used as a target or audience of fulfill or reconcile."""
    for tf in TERRAFORM_DIR.rglob("*.tf"):
        text = tf.read_text()
        assert not re.search(r'^check "', text, re.MULTILINE), tf
        assert "module.fulfill.uri" not in text and "module.reconcile.uri" not in text, tf
    stack = _stack_text()
    deterministic = '"https://${service}-${data.google_project.this.number}.${var.region}.run.app"'
    assert deterministic in stack


def test_every_function_waits_for_its_apis_and_its_grants() -> None:
    stack = _stack_text()
    modules = re.findall(r'module "(\w+)" \{\n  source = "\.\./function"', stack)
    assert modules
    for name in modules:
        block = _module_block(stack, name)
        assert re.search(r"depends_on\s*=\s*\[module\.project_services\]", block), name
        assert re.search(r"iam_propagation_wait\s*=\s*var\.iam_propagation_wait", block), name
    function = (TERRAFORM_DIR / "modules" / "function" / "main.tf").read_text()
    resource = function[function.index('resource "google_cloudfunctions2_function" "this"') :]
    assert re.search(r"depends_on\s*=\s*\[[^\]]*time_sleep\.iam_propagation", resource)
    build = (TERRAFORM_DIR / "modules" / "build" / "main.tf").read_text()
    output = build[build.index('output "docker_repository"') :]
    assert "time_sleep.builder_iam_propagation" in output


def test_alert_policies_wait_for_their_metric_descriptors() -> None:
    text = (TERRAFORM_DIR / "modules" / "observability" / "main.tf").read_text()
    policy = text[text.index('resource "google_monitoring_alert_policy" "counter"') :]
    policy = policy[: policy.index("\n}\n")]
    assert re.search(r"depends_on\s*=\s*\[time_sleep\.metric_descriptors\]", policy)
    sleep = text[text.index('resource "time_sleep" "metric_descriptors"') :]
    assert "google_logging_metric.counter" in sleep[: sleep.index("\n}\n")]


def test_caller_refusals_alert_from_the_function_and_from_cloud_run() -> None:
    text = (TERRAFORM_DIR / "modules" / "observability" / "main.tf").read_text()
    assert 'jsonPayload.event=\\"caller_rejected\\"' in text
    assert "run.googleapis.com%2Frequests" in text and "httpRequest.status=(401 OR 403)" in text
    alerts = text[text.index("  alerts = {") :]
    for metric in ("caller_rejections", "caller_iam_refusals"):
        assert re.search(rf"^    {metric} = \{{", alerts, re.MULTILINE), metric
    stack = _stack_text()
    assert re.search(r"caller_checked_services\s*=\s*keys\(local\.internal_urls\)", stack)


def test_prod_has_a_daily_firestore_backup_schedule() -> None:
    firestore = (TERRAFORM_DIR / "modules" / "firestore" / "main.tf").read_text()
    schedule = firestore[firestore.index('resource "google_firestore_backup_schedule" "daily"') :]
    assert "daily_recurrence {}" in schedule
    assert 'retention = "${var.backup_retention_days * 86400}s"' in schedule
    prod = (TERRAFORM_DIR / "environments" / "prod" / "main.tf").read_text()
    assert re.search(r"firestore_backup_retention_days\s*=\s*var\.firestore_backup_retention_days", prod)
    settings = (TERRAFORM_DIR / "environments" / "prod" / "settings.tfvars").read_text()
    assert re.search(r"^firestore_backup_retention_days\s*=\s*[1-9]\d*", settings, re.MULTILINE)


def test_the_all_users_grant_can_be_left_out_for_domain_restricted_organizations() -> None:
    function = (TERRAFORM_DIR / "modules" / "function" / "main.tf").read_text()
    public = function[function.index('resource "google_cloud_run_v2_service_iam_member" "public"') :]
    assert "count = var.public && var.all_users_invoker ? 1 : 0" in public
    stack = _stack_text()
    for name in ("create_payment", "ipn_webhook", "fulfill", "reconcile"):
        passes = "all_users_invoker = var.public_invoker_grant" in _module_block(stack, name)
        assert passes == (name in ("create_payment", "ipn_webhook")), name
