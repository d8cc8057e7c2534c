"""One Python version for deploy and tests: Terraform's runtime, the Makefile's venv Python,
pyproject's settings and the compiled requirements all name the same one, and the tests run on
it wherever the machine has it (tools/find_python.sh finds it; the Makefile says so loudly
when it has to use another)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from .conftest import REPO, TERRAFORM_DIR

FINDER = REPO / "tools" / "find_python.sh"
_RUNNING = "{}.{}".format(*sys.version_info[:2])


def _terraform_runtimes() -> set[str]:
    found: set[str] = set()
    for tf in TERRAFORM_DIR.rglob("*.tf"):
        if ".terraform" in tf.parts:
            continue
        found.update(re.findall(r'\bruntime\s*=\s*"(python\d+)"', tf.read_text()))
    return found


def _makefile_version() -> str:
    match = re.search(r"^PYTHON_VERSION\s*:?=\s*(\S+)\s*$", (REPO / "Makefile").read_text(), re.M)
    assert match, "the Makefile names no PYTHON_VERSION"
    return match.group(1)


def _deployed() -> str:
    runtimes = _terraform_runtimes()
    assert len(runtimes) == 1, f"Terraform deploys several runtimes: {sorted(runtimes)}"
    (runtime,) = runtimes
    match = re.fullmatch(r"python(\d)(\d+)", runtime)
    assert match, runtime
    return f"{match.group(1)}.{match.group(2)}"


def _version_of(python: str) -> str:
    out = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def _find(version: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", str(FINDER), version], capture_output=True, text=True,
                          timeout=120, env=env)


def test_the_makefile_and_pyproject_name_the_deployed_runtime() -> None:
    version = _deployed()
    assert version == "3.12"  # infra/terraform/modules/function/main.tf
    assert _makefile_version() == version
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["ruff"]["target-version"] == "py" + version.replace(".", "")
    assert pyproject["tool"]["mypy"]["python_version"] == version
    header = (REPO / "requirements.txt").read_text().split("\n\n", 1)[0]
    assert f"--python-version {version}" in header
    assert "python" + version.replace(".", "") in header


def test_the_tests_run_on_the_deployed_python_where_the_machine_has_it() -> None:
    version = _deployed()
    found = _find(version)
    running = _RUNNING
    if found.returncode == 0:
        assert _version_of(found.stdout.strip()) == version
        assert running == version, (
            f"the tests run on Python {running}, but {found.stdout.strip()} is {version}: "
            "`make venv` makes .venv anew on it")
    else:  # no such Python here: the Makefile warns and uses python3
        assert f"no working Python {version}" in found.stderr


def _fake_bin(tmp_path: Path, name: str, script: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return path


def test_the_finder_skips_a_broken_shim_for_pyenvs_own_python(tmp_path: Path) -> None:
    version = _RUNNING
    real = os.path.realpath(sys.executable)
    # pyenv's shim for a version that is installed but not selected: on PATH, but fails
    _fake_bin(tmp_path, f"bin/python{version}",
              f"echo 'pyenv: python{version}: command not found' >&2\nexit 127\n")
    pyenv_python = tmp_path / "pyenv" / "versions" / f"{version}.1" / "bin" / f"python{version}"
    pyenv_python.parent.mkdir(parents=True)
    pyenv_python.symlink_to(real)
    env = {"PATH": str(tmp_path / "bin"), "PYENV_ROOT": str(tmp_path / "pyenv"), "HOME": str(tmp_path)}
    found = _find(version, env)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(pyenv_python)


def test_the_finder_falls_back_to_python3_and_says_so(tmp_path: Path) -> None:
    python3 = tmp_path / "bin" / "python3"
    python3.parent.mkdir()
    python3.symlink_to(os.path.realpath(sys.executable))
    env = {"PATH": str(tmp_path / "bin"), "HOME": str(tmp_path)}
    found = _find("3.99", env)
    assert found.returncode == 1
    assert found.stdout.strip() == str(python3)
    assert "no working Python 3.99" in found.stderr


def _make_dry_run(python: Path, venv_python: Path | None) -> subprocess.CompletedProcess[str]:
    """``make -n venv`` with PYTHON given; the venv is a copy's, so the real .venv is untouched."""
    args = ["make", "--no-print-directory", "-n", "-f", str(REPO / "Makefile"), "venv",
            f"PYTHON={python}"]
    if venv_python is not None:
        args.append(f"VENV={venv_python.parent.parent}")
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_the_makefile_warns_loudly_on_another_python_and_remakes_a_stale_venv(tmp_path: Path) -> None:
    other = _fake_bin(tmp_path, "other/python", "echo 3.11\n")  # answers the version probe only
    venv_python = _fake_bin(tmp_path, "venv/bin/python", f"echo {_deployed()}\n")
    (tmp_path / "venv" / ".installed").touch()  # an up-to-date stamp: only the version differs
    result = _make_dry_run(other, venv_python)
    assert result.returncode == 0, result.stderr
    assert "NOT THE DEPLOYED PYTHON" in result.stderr and "Python 3.11" in result.stderr
    assert f"rm -rf {tmp_path / 'venv'}" in result.stdout
    assert f"{other} -m venv" in result.stdout
    assert "--ignore-requires-python" in result.stdout


def test_the_makefile_keeps_a_venv_on_the_same_python(tmp_path: Path) -> None:
    version = _deployed()
    python = _fake_bin(tmp_path, "py/python", f"echo {version}\n")
    venv_python = _fake_bin(tmp_path, "venv/bin/python", f"echo {version}\n")
    stamp = tmp_path / "venv" / ".installed"
    stamp.touch()
    newer = max((REPO / n).stat().st_mtime for n in ("requirements.in", "requirements.txt",
                                                     "requirements-dev.txt"))
    os.utime(stamp, (newer + 10, newer + 10))
    result = _make_dry_run(python, venv_python)
    assert result.returncode == 0, result.stderr
    assert "NOT THE DEPLOYED PYTHON" not in result.stderr
    assert "rm -rf" not in result.stdout and "-m venv" not in result.stdout
