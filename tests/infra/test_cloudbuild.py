"""cloudbuild.yaml: parses, pinned images, runs the README's test command (tools/cloudbuild_check.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import REPO, TFSCHEMA_PYTHON, require

TOOL = REPO / "tools" / "cloudbuild_check.py"


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    python = require(TFSCHEMA_PYTHON, "the tfschema venv (has PyYAML)")
    return subprocess.run([str(python), str(TOOL), str(path)], capture_output=True, text=True, timeout=60)


def test_cloudbuild_yaml_passes() -> None:
    result = run_check(REPO / "cloudbuild.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


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
    ],
)
def test_cloudbuild_check_catches(tmp_path: Path, yaml_text: str, message: str) -> None:
    bad = tmp_path / "cloudbuild.yaml"
    bad.write_text(yaml_text)
    result = run_check(bad)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
