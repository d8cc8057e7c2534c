#!/usr/bin/env python3
"""Print, as JSON, the environment each deployed function gets from the Terraform.

Reads infra/terraform/modules/stack/main.tf (one `module "<name>"` block per function,
source ../function) and modules/function/main.tf with python-hcl2, as tools/tfschema_check.py
does, and reports for every function the variables it is started with and the Terraform
expression of each:

- the module call's `environment` (a map, or `merge(...)` of maps, `local.*` maps and
  `cond ? {} : {...}` branches; a name from a conditional branch is reported as optional);
- NAME_FILE for each entry of its `secrets` (the function module mounts the secret and points
  NAME_FILE at the file);
- the names the function module adds itself (GOOGLE_CLOUD_PROJECT, THREADS).

It also reports the stack's locals that are plain values, and the Cloud Scheduler job's
target and token audience. tests/infra/test_settings.py compares all that with
shared.platform.config.Settings. Run it with the tfschema venv's python (it has python-hcl2):

    .venv-tfschema/bin/python tools/tf_function_env.py infra/terraform
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def parse(path: Path) -> dict[str, Any]:
    opts = SerializationOptions(strip_string_quotes=True)
    return dict(hcl2.loads(path.read_text(), serialization_options=opts))


def _labelled(section: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for item in section for k, v in item.items() if isinstance(v, dict)]


def _unwrap(expr: str) -> str:
    """'${ ... }' -> '...'."""
    expr = expr.strip()
    if expr.startswith("${") and expr.endswith("}") and _matching(expr, 1) == len(expr) - 1:
        return expr[2:-1].strip()
    return expr


def _skip_string(text: str, i: int) -> int:
    """Index just past the string literal starting at text[i] == '"'."""
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        if text.startswith("${", i):
            i = _matching(text, i + 1) + 1
            continue
        i += 1
    raise ValueError(f"unterminated string in {text!r}")


def _matching(text: str, i: int) -> int:
    """Index of the bracket closing the one at text[i]."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    stack = [pairs[text[i]]]
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == '"':
            j = _skip_string(text, j)
            continue
        if c in pairs:
            stack.append(pairs[c])
        elif stack and c == stack[-1]:
            stack.pop()
            if not stack:
                return j
        j += 1
    raise ValueError(f"unbalanced brackets in {text!r}")


def _split_top(text: str, sep: str = ",") -> list[str]:
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            continue
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _object_entries(body: str) -> dict[str, str] | None:
    """'A = x, B = f(y)' -> {'A': 'x', 'B': 'f(y)'}; None when it is not an env map literal."""
    entries: dict[str, str] = {}
    for part in _split_top(body):
        key, eq, value = part.partition("=")
        key = key.strip().strip('"')
        if not eq or not _ENV_NAME.fullmatch(key) or value.startswith("="):
            return None
        entries[key] = value.strip()
    return entries


def env_maps(expr: Any, local_maps: dict[str, dict[str, str]]) -> list[tuple[dict[str, str], bool]]:
    """The env maps an expression is made of: [(map, optional)], optional = in a conditional."""
    if isinstance(expr, dict):
        return [({k: str(v) for k, v in expr.items() if not k.startswith("__")}, False)]
    text = _unwrap(str(expr))
    found: list[tuple[dict[str, str], bool]] = []
    for name, values in local_maps.items():
        if re.search(rf"\blocal\.{name}\b", text):
            found.append((values, False))
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            continue
        if c == "{":
            end = _matching(text, i)
            entries = _object_entries(text[i + 1 : end])
            if entries is None:
                raise ValueError(f"cannot read the map {text[i:end + 1]!r}")
            before = text[:i].rstrip()
            optional = before.endswith(("?", ":"))
            if entries:
                found.append((entries, optional))
            i = end + 1
            continue
        i += 1
    return found


def function_env(terraform: Path) -> dict[str, Any]:
    stack = parse(terraform / "modules" / "stack" / "main.tf")
    function_module = parse(terraform / "modules" / "function" / "main.tf")

    locals_: dict[str, Any] = {}
    for block in stack.get("locals", []):
        locals_.update({k: v for k, v in block.items() if not k.startswith("__")})
    local_maps = {k: {n: str(x) for n, x in v.items() if not n.startswith("__")}
                  for k, v in locals_.items() if isinstance(v, dict)}
    plain_locals = {k: v for k, v in locals_.items() if isinstance(v, (str, int, float, bool))}

    # What the function module adds: NAME_FILE per secret, and its own literal names.
    module_locals: dict[str, Any] = {}
    for block in function_module.get("locals", []):
        module_locals.update(block)
    secret_env = str(module_locals.get("secret_env", ""))
    if '"${env_name}_FILE"' not in secret_env:
        raise SystemExit(f"modules/function: secret_env no longer maps NAME to NAME_FILE: {secret_env!r}")
    own: dict[str, str] = {}
    for rtype, instances in _labelled(function_module.get("resource", [])):
        if rtype != "google_cloudfunctions2_function":
            continue
        for _, body in _labelled([instances]):
            for service_config in body.get("service_config", []):
                for entries, _ in env_maps(service_config.get("environment_variables", ""), {}):
                    own.update(entries)

    functions: dict[str, Any] = {}
    for name, body in _labelled(stack.get("module", [])):
        if body.get("source") != "../function":
            continue
        env: dict[str, str] = dict(own)
        optional: list[str] = []
        for entries, is_optional in env_maps(body.get("environment", {}), local_maps):
            env.update(entries)
            if is_optional:
                optional.extend(entries)
        secrets = body.get("secrets", {})
        for secret_name in secrets if isinstance(secrets, dict) else {}:
            if not secret_name.startswith("__"):
                env[f"{secret_name}_FILE"] = f"(secret {secrets[secret_name]})"
        functions[name] = {"env": env, "optional": sorted(optional)}

    scheduler: dict[str, str] = {}
    for rtype, instances in _labelled(stack.get("resource", [])):
        if rtype != "google_cloud_scheduler_job":
            continue
        for job_name, body in _labelled([instances]):
            for target in body.get("http_target", []):
                scheduler[f"{job_name}.uri"] = _unwrap(str(target.get("uri", "")))
                for token in target.get("oidc_token", []):
                    scheduler[f"{job_name}.audience"] = _unwrap(str(token.get("audience", "")))
    return {
        "functions": {n: {"env": {k: _unwrap(v) for k, v in f["env"].items()},
                          "optional": f["optional"]} for n, f in functions.items()},
        "locals": {k: (_unwrap(v) if isinstance(v, str) else v) for k, v in plain_locals.items()},
        "scheduler": scheduler,
    }


def main(argv: list[str]) -> int:
    terraform = Path(argv[0]) if argv else Path("infra/terraform")
    json.dump(function_env(terraform), sys.stdout, indent=2, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
