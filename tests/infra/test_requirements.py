"""The deployed requirements.txt pins every package with hashes, compiled from requirements.in."""

from __future__ import annotations

import re

from .conftest import REPO

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s\\;]+)")


def _entries(text: str) -> list[str]:
    """Requirement entries with their continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", text)
    return [line.split("#", 1)[0].strip() for line in joined.splitlines()
            if line.split("#", 1)[0].strip()]


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw.split("[", 1)[0]).lower()


def test_every_deployed_package_is_pinned_with_hashes() -> None:
    entries = _entries((REPO / "requirements.txt").read_text())
    assert len(entries) > 20  # direct and transitive
    for entry in entries:
        assert PIN.match(entry), f"not pinned with ==: {entry}"
        assert "--hash=sha256:" in entry, f"no hash: {entry}"
        assert not entry.startswith("-"), entry


def test_the_compiled_file_holds_every_direct_pin() -> None:
    compiled = {}
    for entry in _entries((REPO / "requirements.txt").read_text()):
        match = PIN.match(entry)
        assert match
        compiled[_name(match.group(1))] = match.group(2)
    for entry in _entries((REPO / "requirements.in").read_text()):
        match = PIN.match(entry)
        assert match, f"requirements.in pins each package with ==: {entry}"
        name, version = _name(match.group(1)), match.group(2)
        assert compiled.get(name) == version, (
            f"{name}=={version} in requirements.in, {compiled.get(name)} in requirements.txt: "
            "recompile requirements.txt (command in its header)")


def test_development_installs_do_not_require_hashes() -> None:
    dev = (REPO / "requirements-dev.txt").read_text()
    assert "-r requirements.in" in dev and "-r requirements.txt" not in dev
