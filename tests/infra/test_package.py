"""The deploy zips, served the way the Python buildpack serves them.

Each zip is unpacked into an empty folder; a clean venv gets only the zip's requirements.txt;
the venv's `functions-framework` console script runs from the unpacked root with
FUNCTION_TARGET / FUNCTION_SOURCE=entry_<name>.py, no PYTHONPATH, on a free loopback port, and
must answer HTTP. A module or file missing from the zip, or an import that only works from the
repository, fails here.

The venv is shared by the functions and kept between runs under build/pkgtest-venv/<hash of
requirements.txt and the interpreter>: it only ever holds what requirements.txt installs, so a
cached one is as clean as a new one. Set PKGTEST_FRESH_VENV=1 to force a new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.support.offline_env import OFFLINE_ENV
from tests.support.waiting import wait_until

from .conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import build_package  # noqa: E402

FUNCTIONS = build_package.discover_functions()

# The functions Terraform deploys (modules/stack: the `packages` validation; test_terraform
# checks the two lists agree). Each is tested as soon as its entry_<name>.py and
# functions/<name>/main.py exist, and reported as skipped until then.
DEPLOYED = ["create_payment", "ipn_webhook", "fulfill", "reconcile"]
CASES = sorted(set(FUNCTIONS) | set(DEPLOYED))

# Per function: requests that need no backing service (no Firestore, Mercado Pago, Tasks).
REQUESTS: dict[str, list[tuple[str, str, bytes | None]]] = {
    "create_payment": [("GET", "/", None), ("GET", "/no-such-endpoint", None)],
    "ipn_webhook": [("GET", "/", None), ("POST", "/?type=payment&data.id=123", b"{}")],
    "fulfill": [("GET", "/", None)],
    "reconcile": [("GET", "/", None)],
}

# Modules a function must not load (docs/contracts.md: who uses what).
FORBIDDEN_MODULES = {
    "ipn_webhook": ["google.cloud.firestore", "google.cloud.firestore_v1", "mercadopago",
                    "google.cloud.recaptchaenterprise_v1"],
    # the bot check's client loads only when RECAPTCHA_SITE_KEY is set
    "create_payment": ["google.cloud.tasks_v2", "google.cloud.recaptchaenterprise_v1"],
    # the topics, not the signature check (tests/checks/test_import_budget.py: more cases)
    "fulfill": ["shared.adapters.mercadopago.webhooks"],
    "reconcile": ["shared.adapters.mercadopago.webhooks"],
}

# Enough configuration for the modules to load and answer the requests above, with no traffic
# leaving the machine (tests/support/offline_env.py).
RUNTIME_ENV = {
    **OFFLINE_ENV,
    "MP_ACCESS_TOKEN": "TEST-not-a-token",
    "MP_WEBHOOK_SECRET": "test-webhook-secret",
    "MERCHANT_WEBHOOK_SECRET": "test-merchant-secret",
    # fulfill and reconcile refuse to start without their caller check (as deployed)
    "CALLER_AUTH": "cloud_run_iam",
    "LOG_LEVEL": "INFO",
}


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(RUNTIME_ENV)
    return env


def _runtime_python() -> str:
    """The deployed runtime is python312: use a working 3.12 when the machine has one."""
    candidates = [os.environ.get("PKGTEST_PYTHON", ""), shutil.which("python3.12") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv_root.glob("versions/3.12*/bin/python3.12"))]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; assert sys.version_info[:2] == (3, 12)"],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return candidate
    return sys.executable


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not FUNCTIONS:
        pytest.fail("no entry_*.py at the repository root")
    first = tmp_path_factory.mktemp("pkg1")
    second = tmp_path_factory.mktemp("pkg2")
    built = {}
    for name in FUNCTIONS:
        if not (REPO / "functions" / name / "main.py").exists():
            continue  # function being written; its entry file exists already
        zip1, sha1 = build_package.build_zip(name, first)
        zip2, sha2 = build_package.build_zip(name, second)
        assert sha1 == sha2, f"{name}: two builds differ"
        assert zip1.read_bytes() == zip2.read_bytes()
        assert (first / f"{name}.zip.sha256").read_text().split()[0] == sha1
        built[name] = zip1
    if not built:
        pytest.skip("no function has a main.py yet")
    return built


@pytest.fixture(scope="module")
def runtime_venv() -> Path:
    python = _runtime_python()
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout
    key = hashlib.sha256((REPO / "requirements.txt").read_bytes() + version.encode()).hexdigest()
    venv = REPO / "build" / "pkgtest-venv" / key[:16]
    stamp = venv / ".installed"
    if os.environ.get("PKGTEST_FRESH_VENV") and venv.exists():
        shutil.rmtree(venv)
    if not stamp.exists():
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",  # exactly what was compiled, as the buildpack installs it
                "-r",
                str(REPO / "requirements.txt"),
            ],
            check=True,
            timeout=600,
        )
        stamp.write_text(version)
    return venv


def _unpack(zip_path: Path, dest: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(dest)
    return dest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _request(port: int, method: str, path: str, body: bytes | None) -> int:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_functions_are_discovered() -> None:
    assert {"create_payment", "ipn_webhook", "fulfill"} <= set(FUNCTIONS)


def _skip_unless_built(name: str, packages: dict[str, Path]) -> None:
    if not (REPO / f"entry_{name}.py").exists():
        pytest.skip(f"entry_{name}.py not written yet")
    if name not in packages:
        pytest.skip(f"functions/{name}/main.py not written yet")


@pytest.mark.parametrize("name", CASES)
def test_zip_contents(name: str, packages: dict[str, Path]) -> None:
    _skip_unless_built(name, packages)
    with zipfile.ZipFile(packages[name]) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert "requirements.txt" in names
    assert f"entry_{name}.py" in names
    assert "functions/__init__.py" in names
    assert f"functions/{name}/main.py" in names
    assert any(n.startswith("shared/") for n in names)
    for n in names:
        top = n.split("/")[0]
        assert top in {"requirements.txt", f"entry_{name}.py", "functions", "shared"}, n
        parts = n.split("/")
        assert "tests" not in parts and "local" not in parts and "__pycache__" not in parts, n
        assert not n.endswith(".pyc"), n
        if parts[0] == "functions" and len(parts) > 2:
            assert parts[1] == name, f"{name}'s zip carries another function: {n}"
    for info in infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644


@pytest.mark.parametrize("name", CASES)
def test_loads_only_its_own_modules(
    name: str, packages: dict[str, Path], runtime_venv: Path, tmp_path: Path
) -> None:
    _skip_unless_built(name, packages)
    root = _unpack(packages[name], tmp_path / "workspace")
    forbidden = FORBIDDEN_MODULES.get(name, [])
    # functions-framework appends the source file's folder to sys.path and imports it; do
    # the same, then look at what got loaded.
    snippet = (
        "import os, sys, json\n"
        "sys.path.append(os.getcwd())\n"
        f"import entry_{name} as entry\n"
        f"assert callable(getattr(entry, {name!r}))\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('functions.', 'shared')))\n"
        f"bad = [m for m in {forbidden!r} if m in sys.modules]\n"
        "print(json.dumps({'loaded': loaded, 'bad': bad}))\n"
    )
    result = subprocess.run(
        [str(runtime_venv / "bin" / "python"), "-c", snippet],
        cwd=root,
        env=_base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json

    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["bad"] == [], f"{name} loads {report['bad']}"
    others = [f for f in FUNCTIONS if f != name]
    stray = [m for m in report["loaded"] if any(m.startswith(f"functions.{o}") for o in others)]
    assert not stray, f"{name} loads other functions' modules: {stray}"


@pytest.mark.parametrize("name", CASES)
def test_served_like_the_buildpack(
    name: str, packages: dict[str, Path], runtime_venv: Path, tmp_path: Path
) -> None:
    _skip_unless_built(name, packages)
    root = _unpack(packages[name], tmp_path / "workspace")
    port = _free_port()
    env = _base_env()
    env.update({"FUNCTION_TARGET": name, "FUNCTION_SOURCE": f"entry_{name}.py", "PORT": str(port)})
    env.pop("PYTHONPATH", None)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(runtime_venv / "bin" / "functions-framework")],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            statuses: list[int] = []

            def listening() -> bool:
                if proc.poll() is not None:
                    pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return True

            try:
                wait_until(listening, 30, f"{name} to listen", interval=0.2, retry_on=(OSError,))
            except AssertionError:
                pytest.fail(f"{name} never listened:\n{log.read_text()[-3000:]}")
            for method, path, body in REQUESTS.get(name, [("GET", "/", None)]):
                status = _request(port, method, path, body)
                statuses.append(status)
                assert status < 500, f"{name} {method} {path} -> {status}\n{log.read_text()[-3000:]}"
            assert proc.poll() is None, f"{name} died:\n{log.read_text()[-3000:]}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert "ImportError" not in text and "ModuleNotFoundError" not in text, text[-3000:]
    if name in ("ipn_webhook", "fulfill", "reconcile"):
        assert statuses[0] == 405, f"{name}: GET should be 405, got {statuses[0]}"
