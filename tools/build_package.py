#!/usr/bin/env python3
"""Build the deploy zip of each function, byte for byte reproducible.

One zip per function, named <function>.zip, laid out as the Python buildpack expects its
source root:

    requirements.txt            the only requirements file the buildpack installs
    entry_<function>.py         GOOGLE_FUNCTION_SOURCE: imports only this function's modules
    functions/__init__.py
    functions/<function>/...    the function's own package
    shared/...                  the product package

Nothing else: no tests, no local/ platform, no caches. Every entry has a fixed timestamp
(1980-01-01), fixed permissions (0644) and the entries are sorted, so the same sources give
the same bytes and the same sha256; Terraform names the uploaded object
<function>/<sha256>.zip, so a code change (and only a code change) makes a new deploy.

Writes, in --out (default build/packages):
    <function>.zip, <function>.zip.sha256 (sha256sum format)
    packages.tfvars.json    {"packages": {"<function>": {"path": ..., "sha256": ...}}}
                            for `terraform plan -var-file=...`

Used by mk/infra.mk (`make -f mk/infra.mk package`), cloudbuild.yaml and tests/infra.
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644  # regular file, rw-r--r--
EXCLUDED_DIRS = {
    "__pycache__",
    "tests",
    "test",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
}
EXCLUDED_SUFFIXES = (".pyc", ".pyo", ".egg-info", ".swp", "~")
EXCLUDED_NAMES = {".DS_Store", "conftest.py"}


def discover_functions(repo: Path = REPO) -> list[str]:
    """Every deployed function has an entry_<name>.py at the repository root."""
    return sorted(p.stem.removeprefix("entry_") for p in repo.glob("entry_*.py"))


def _tree(root: Path, base: Path) -> list[str]:
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(base)
        if any(part in EXCLUDED_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if not path.is_file() or path.is_symlink():
            continue
        if path.name in EXCLUDED_NAMES or path.name.endswith(EXCLUDED_SUFFIXES):
            continue
        if path.name.startswith("test_") or path.name.endswith("_test.py"):
            continue
        out.append(rel.as_posix())
    return out


def package_files(function: str, repo: Path = REPO) -> list[str]:
    """Relative paths (posix) that go into the function's zip, sorted."""
    entry = repo / f"entry_{function}.py"
    package = repo / "functions" / function
    missing = [
        p
        for p in (
            repo / "requirements.txt",
            entry,
            repo / "functions" / "__init__.py",
            package,
            repo / "shared",
        )
        if not p.exists()
    ]
    if missing:
        raise FileNotFoundError(
            f"cannot package {function}: missing " + ", ".join(str(p.relative_to(repo)) for p in missing)
        )
    files = {"requirements.txt", entry.name, "functions/__init__.py"}
    files.update(_tree(package, repo))
    files.update(_tree(repo / "shared", repo))
    return sorted(files)


def build_zip(function: str, out_dir: Path, repo: Path = REPO) -> tuple[Path, str]:
    """Write <out_dir>/<function>.zip; return its path and sha256 hex."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{function}.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for rel in package_files(function, repo):
            info = zipfile.ZipInfo(rel, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, so the mode bits are honoured everywhere
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (repo / rel).read_bytes(), compresslevel=9)
    tmp.replace(target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    (out_dir / f"{function}.zip.sha256").write_text(f"{digest}  {target.name}\n")
    return target, digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("functions", nargs="*", help="functions to build (default: every entry_*.py)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "packages")
    parser.add_argument("--list", action="store_true", help="print the files of each package, build nothing")
    args = parser.parse_args(argv)
    functions = args.functions or discover_functions()
    if not functions:
        print("no entry_*.py at the repository root", file=sys.stderr)
        return 1
    if args.list:
        for function in functions:
            for rel in package_files(function):
                print(f"{function}: {rel}")
        return 0
    out_dir = args.out.resolve()
    manifest: dict[str, dict[str, str]] = {}
    for function in functions:
        path, digest = build_zip(function, out_dir)
        manifest[function] = {"path": str(path), "sha256": digest}
        print(f"{digest}  {path}")
    (out_dir / "packages.tfvars.json").write_text(
        json.dumps({"packages": manifest}, indent=2, sort_keys=True) + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
