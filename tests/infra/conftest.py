"""Shared paths for the offline deployment checks (run by `make -f mk/infra.mk test-infra`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "infra" / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _venv_python(env_var: str, default: str) -> Path:
    return Path(os.environ.get(env_var, str(REPO / default / "bin" / "python")))


TFSCHEMA_PYTHON = _venv_python("TFSCHEMA_PYTHON", ".venv-tfschema")
CHECKOV_BIN = Path(os.environ.get("CHECKOV_BIN", str(REPO / ".venv-checkov" / "bin" / "checkov")))


def require(path: Path, what: str) -> Path:
    """The tool venvs are made by mk/infra.mk; without them the check cannot run at all."""
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{what} missing at {path}: run `make -f mk/infra.mk infra-tools`")
        pytest.skip(f"{what} missing at {path}: run `make -f mk/infra.mk infra-tools`")
    return path
