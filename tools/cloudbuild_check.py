#!/usr/bin/env python3
"""Check cloudbuild.yaml: it parses, every step's image is pinned, and a step runs `make test`.

Pinned = a digest (@sha256:...) or an explicit tag other than `latest`. Also refuses inline
secrets (`secretEnv`/`availableSecrets` with literal values are not used here at all).
Needs PyYAML (run it in .venv-tfschema: `make -f mk/infra.mk cloudbuild-check`).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


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


def check(path: Path) -> list[str]:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or not isinstance(doc.get("steps"), list) or not doc["steps"]:
        return [f"{path}: no steps"]
    problems = []
    runs_make_test = False
    for i, step in enumerate(doc["steps"]):
        where = f"{path}: step {i} ({step.get('id', '?')})"
        image = step.get("name")
        if not isinstance(image, str):
            problems.append(f"{where}: no image")
            continue
        problem = image_problem(image)
        if problem:
            problems.append(f"{where}: {problem}")
        if re.search(r"(^|[\s;&|(])make\s+test(\s|$|;|&)", step_text(step)):
            runs_make_test = True
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
