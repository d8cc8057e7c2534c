#!/usr/bin/env python3
"""Check cloudbuild.yaml: it parses, every step's image is pinned, and a step runs `make test`.

Pinned = a digest (@sha256:...) or an explicit tag other than `latest`. Also refuses inline
secrets (`secretEnv`/`availableSecrets` with literal values are not used here at all), a
`terraform plan` without the environment's committed settings (`-var-file=settings.tfvars`),
and a `TF_VAR_<name>` for a variable that a settings.tfvars sets (two places for one setting:
-var-file wins, so the TF_VAR_ would silently do nothing, or drift from the file).
Needs PyYAML (run it in .venv-tfschema: `make -f mk/infra.mk cloudbuild-check`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_PLAN = re.compile(r"(^|[\s;&|(])terraform\s+plan(\s|$)")
_SETTINGS_VAR_FILE = re.compile(r"-var-file[= ](\S*/)?settings\.tfvars(\s|$)")
_TFVARS_KEY = re.compile(r"^([a-z_][a-z0-9_]*)\s*=", re.MULTILINE)


def image_problem(image: str) -> str | None:
    if _DIGEST.search(image):
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return f"image {image!r} has no tag or digest"
    tag = last.split(":", 1)[1]
    if not tag or tag == "latest" or "$" in tag:
        return f"image {image!r} is not pinned (tag {tag!r})"
    return None


def step_text(step: dict[str, Any]) -> str:
    parts = [str(step.get("entrypoint", ""))]
    args = step.get("args", [])
    parts.extend(str(a) for a in (args if isinstance(args, list) else [args]))
    parts.append(str(step.get("script", "")))
    return "\n".join(parts)


def settings_keys(root: Path) -> set[str]:
    """Variables set by any infra/terraform/environments/*/settings.tfvars under ``root``."""
    keys: set[str] = set()
    for tfvars in sorted((root / "infra" / "terraform" / "environments").glob("*/settings.tfvars")):
        keys.update(_TFVARS_KEY.findall(tfvars.read_text()))
    return keys


def _env_names(step: dict[str, Any]) -> list[str]:
    env = step.get("env", [])
    return [str(e).split("=", 1)[0] for e in (env if isinstance(env, list) else [])]


def check(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        return [f"{path}: no steps"]
    problems = []
    runs_make_test = False
    settings = settings_keys(path.resolve().parent)
    for i, step in enumerate(doc["steps"]):
        where = f"{path}: step {i} ({step.get('id', '?')})"
        image = step.get("name")
        if not isinstance(image, str):
            problems.append(f"{where}: no image")
            continue
        problem = image_problem(image)
        if problem:
            problems.append(f"{where}: {problem}")
        text = step_text(step)
        if re.search(r"(^|[\s;&|(])make\s+test(\s|$|;|&)", text):
            runs_make_test = True
        args = step.get("args", [])
        plans = _PLAN.search(text) or (isinstance(args, list) and args[:1] == ["plan"])
        if image.startswith("hashicorp/terraform") and plans and not _SETTINGS_VAR_FILE.search(text):
            problems.append(
                f"{where}: terraform plan without -var-file=settings.tfvars "
                "(the environment's committed settings)"
            )
        for name in _env_names(step):
            if name.startswith("TF_VAR_") and name[len("TF_VAR_"):] in settings:
                problems.append(f"{where}: {name} repeats a variable that settings.tfvars sets")
    if not runs_make_test:
        problems.append(f"{path}: no step runs `make test` (the README's test command)")
    if "availableSecrets" in doc or any("secretEnv" in s for s in doc["steps"]):
        problems.append(f"{path}: secrets do not belong in the build file")
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [Path("cloudbuild.yaml")]
    problems = [p for path in paths for p in check(path)]
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
