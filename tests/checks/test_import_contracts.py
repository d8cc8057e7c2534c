"""The import contracts in pyproject.toml ([tool.importlinter]) hold, and they do catch an arrow
that runs back up a layer or a heavy client in the domain; package ``__init__`` files import
nothing, so a function loads only its own path."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-logo", "--no-cache"], cwd=root,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The package and its contracts, in a tree a test may break."""
    shutil.copytree(REPO / "shared", tmp_path / "shared",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_repository_keeps_its_contracts() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(("module", "line", "broken"), [
    ("shared/adapters/store/outbox.py", "from shared.usecases import handoff",
     "shared.adapters.store.outbox -> shared.usecases.handoff"),
    ("shared/platform/log.py", "from shared import wiring",
     "shared.platform.log -> shared.wiring"),
    ("shared/domain/money.py", "from shared.platform import config",
     "shared.domain.money -> shared.platform.config"),
    ("shared/domain/money.py", "from google.cloud import firestore",
     "shared.domain is not allowed to import google"),
    ("shared/domain/events.py", "import requests",
     "shared.domain is not allowed to import requests"),
])
def test_an_arrow_back_up_breaks_the_build(copy: Path, module: str, line: str,
                                            broken: str) -> None:
    assert _lint_imports(copy).returncode == 0
    with (copy / module).open("a") as f:
        f.write(f"\n{line}  # noqa\n")
    result = _lint_imports(copy)
    assert result.returncode != 0
    assert broken in " ".join(result.stdout.split())


@pytest.mark.parametrize("init", sorted(str(p.relative_to(REPO))
                                        for p in (REPO / "shared").rglob("__init__.py")))
def test_package_inits_import_nothing(init: str) -> None:
    tree = ast.parse((REPO / init).read_text())
    imports = [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
               and not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    assert imports == [], f"{init} imports {[ast.unparse(n) for n in imports]}"
