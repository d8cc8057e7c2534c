"""cloudbuild.yaml: parses, pinned images, runs the README's test command (tools/cloudbuild_check.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, TERRAFORM_DIR, TFSCHEMA_PYTHON, require

TOOL = REPO / "tools" / "cloudbuild_check.py"


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    python = require(TFSCHEMA_PYTHON, "the tfschema venv (has PyYAML)")
    return subprocess.run([str(python), str(TOOL), str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["cloudbuild.yaml", "cloudbuild-pr.yaml"])
def test_cloudbuild_yaml_passes(name: str) -> None:
    result = run_check(REPO / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pull_request_builds_plan_read_only_and_never_apply() -> None:
    text = (REPO / "cloudbuild-pr.yaml").read_text()
    assert "make test" in text and "terraform plan -lock=false" in text
    assert "apply" not in text.replace("applies", "") and "artifacts" not in text
    trigger = (TERRAFORM_DIR / "modules" / "cicd" / "main.tf").read_text()
    assert 'filename        = "cloudbuild-pr.yaml"' in trigger
    assert "service_account = google_service_account.pull_request.id" in trigger


def test_cloudbuild_runs_terraform_steps() -> None:
    text = (REPO / "cloudbuild.yaml").read_text()
    for word in ("ruff", "mypy", "make test", "build_package.py", "fmt", "init", "validate", "plan", "apply"):
        assert word in text, word


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("steps:\n- name: python:latest\n  args: [make, test]\n", "is not pinned"),
        ("steps:\n- name: python\n  args: [make, test]\n", "has no tag or digest"),
        ("steps:\n- name: python:3.12\n  args: [make, lint]\n", "no step runs `make test`"),
        ("steps: [\n", "while parsing"),
        (
            "steps:\n- name: python:3.12\n  args: [make, test]\n"
            "- name: hashicorp/terraform:1.11.4\n  args: [plan, -input=false, -out=tfplan]\n",
            "terraform plan without -var-file=settings.tfvars",
        ),
        (
            "steps:\n- name: python:3.12\n  args: [make, test]\n"
            "- name: hashicorp/terraform:1.11.4\n  env: [TF_VAR_project_id=p]\n"
            "  args: [plan, -var-file=settings.tfvars]\n",
            "TF_VAR_project_id repeats a variable that settings.tfvars sets",
        ),
    ],
)
def test_cloudbuild_check_catches(tmp_path: Path, yaml_text: str, message: str) -> None:
    bad = tmp_path / "cloudbuild.yaml"
    bad.write_text(yaml_text)
    settings = tmp_path / "infra" / "terraform" / "environments" / "staging" / "settings.tfvars"
    settings.parent.mkdir(parents=True)
    settings.write_text('project_id = "example"\n')
    result = run_check(bad)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


ENVIRONMENTS = ("staging", "prod")


def _declared_variables(root: Path) -> dict[str, bool]:
    """Variable name -> has a default, for the environment root (a plain reading of variables.tf)."""
    text = (root / "variables.tf").read_text()
    blocks = re.findall(r'^variable "(\w+)" \{\n(.*?)^\}', text, re.MULTILINE | re.DOTALL)
    return {name: bool(re.search(r"^  default\s*=", body, re.MULTILINE)) for name, body in blocks}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_settings_tfvars_is_the_one_set_of_settings(env: str) -> None:
    root = TERRAFORM_DIR / "environments" / env
    settings = (root / "settings.tfvars").read_text()
    keys = re.findall(r"^([a-z_][a-z0-9_]*)\s*=", settings, re.MULTILINE)
    declared = _declared_variables(root)
    assert set(keys) <= set(declared), set(keys) - set(declared)
    # Everything without a default comes from this file, except the packages (built per run).
    assert {n for n, has_default in declared.items() if not has_default} - set(keys) == {"packages"}
    # Non-secret by construction: no variable of the roots takes a secret; keep it that way.
    assert not [k for k in keys if re.search(r"secret|token|password|key", k)], keys
    assert "EXAMPLE" in settings  # a fork sees what to edit
    # No local override file is expected next to it (it would differ from what CI applies).
    assert not (root / "terraform.tfvars.example").exists()


def test_pipeline_and_guide_plan_with_the_settings() -> None:
    text = (REPO / "cloudbuild.yaml").read_text()
    assert "-var-file=settings.tfvars" in text
    assert "TF_VAR_" not in text.split("steps:", 1)[1]
    guide = (REPO / "docs" / "deploying.md").read_text()
    applies = re.findall(r"^\s*terraform (?:plan|apply)\b.*$", guide, re.MULTILINE)
    assert applies
    for line in applies:
        if "tfplan" in line:  # applying a saved plan takes no variables
            continue
        assert "-var-file=settings.tfvars" in line, line
