#!/usr/bin/env python3
"""Offline schema check of Terraform code against the pinned hashicorp/google provider.

The provider cannot be downloaded here, so `terraform validate` cannot run. This tool takes
provider 6.50.0's schema from the PyPI package cdktf-cdktf-provider-google 16.12.1 (its jsii
assembly, generated from that provider) and checks every .tf file under the given folders:

- every resource and data source type exists;
- every argument and nested block exists (including blocks written with `dynamic`), and
  arguments are not written as blocks nor blocks as arguments;
- required arguments and required nested blocks are present;
- meta-arguments (count, for_each, depends_on, provider, lifecycle, ...) are accepted;
- every call of a local module passes only variables the module declares, and every
  variable without a default.

Run it in the venv that has python-hcl2 8.1.4 and cdktf-cdktf-provider-google 16.12.1
(`make -f mk/infra.mk tfschema-check`). It never imports the cdktf package (that would start
node): it reads the assembly file from site-packages and caches a compact schema as JSON.

Exit status: 0 when no problem is found, 1 otherwise (problems on stdout, one a line).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import sysconfig
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

PROVIDER_PACKAGE = "cdktf_cdktf_provider_google"
ASSEMBLY_PREFIX = "@cdktf/provider-google."
EXPECTED_PROVIDER_VERSION = "6.50.0"

RESOURCE_META_ARGS = {"count", "for_each", "depends_on", "provider"}
RESOURCE_META_BLOCKS = {"lifecycle", "provisioner", "connection"}
MODULE_META_ARGS = {"source", "version", "count", "for_each", "depends_on", "providers"}
PROVIDER_META_ARGS = {"alias"}

_DOC_LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/google/(?P<version>[0-9.]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<name>\w+) (?P<tftype>google_\w+)\}"
)
_ANCHOR = re.compile(r"registry\.terraform\.io/providers/hashicorp/google/[0-9.]+/docs/\S*#(\w+) ")


# --------------------------------------------------------------------------- schema


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def _struct_fqn(type_ref: dict[str, Any], types: dict[str, Any]) -> str | None:
    """The nested-block struct a property refers to, or None for a plain argument."""
    if "fqn" in type_ref:
        fqn = type_ref["fqn"]
        t = types.get(fqn)
        if t and t.get("kind") == "interface" and t.get("datatype"):
            return str(fqn)
        return None
    if "union" in type_ref:
        for member in type_ref["union"]["types"]:
            found = _struct_fqn(member, types)
            if found:
                return found
        return None
    if "collection" in type_ref:
        coll = type_ref["collection"]
        if coll.get("kind") == "array":
            return _struct_fqn(coll["elementtype"], types)
    return None


def _block_schema(fqn: str, types: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    attrs: dict[str, bool] = {}
    blocks: dict[str, Any] = {}
    if depth > 30:  # recursive schemas do not occur in this provider; stay safe anyway
        return {"attrs": attrs, "blocks": blocks}
    for prop in types[fqn].get("properties", []):
        docs = prop.get("docs", {})
        anchor = _ANCHOR.search(docs.get("remarks", ""))
        tf_name = anchor.group(1) if anchor else _snake(prop["name"])
        required = not prop.get("optional", False)
        nested = _struct_fqn(prop["type"], types)
        if nested:
            blocks[tf_name] = {"required": required, **_block_schema(nested, types, depth + 1)}
        else:
            attrs[tf_name] = required
    return {"attrs": attrs, "blocks": blocks}


def _find_assembly() -> Path:
    purelib = Path(sysconfig.get_paths()["purelib"])
    found = sorted((purelib / PROVIDER_PACKAGE / "_jsii").glob("*.jsii.tgz"))
    if not found:
        raise SystemExit(
            f"{PROVIDER_PACKAGE} is not installed in this interpreter ({sys.executable}); "
            "run `make -f mk/infra.mk tfschema-venv`"
        )
    return found[0]


def build_schema(assembly: Path) -> dict[str, Any]:
    with tarfile.open(assembly, "r:gz") as tar:
        member = tar.getmember("package/.jsii")
        handle = tar.extractfile(member)
        if handle is None:
            raise SystemExit(f"no .jsii in {assembly}")
        jsii = json.load(handle)
    types: dict[str, Any] = jsii["types"]
    schema: dict[str, Any] = {
        "assembly": assembly.name,
        "provider_version": None,
        "resource": {},
        "data": {},
        "provider": None,
    }
    for fqn, t in types.items():
        if t.get("kind") != "class" or not fqn.startswith(ASSEMBLY_PREFIX):
            continue
        link = _DOC_LINK.search(t.get("docs", {}).get("summary", ""))
        if not link:
            continue
        config = t["initializer"]["parameters"][-1]["type"]["fqn"]
        kind = "resource" if link.group("kind") == "resources" else "data"
        schema["provider_version"] = link.group("version")
        schema[kind][link.group("tftype")] = _block_schema(config, types)
    provider_cfg = ASSEMBLY_PREFIX + "provider.GoogleProviderConfig"
    if provider_cfg in types:
        schema["provider"] = _block_schema(provider_cfg, types)
    return schema


def load_schema(cache: Path | None) -> dict[str, Any]:
    assembly = _find_assembly()
    stamp = f"{assembly.name}:{assembly.stat().st_size}"
    if cache and cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("stamp") == stamp:
            return dict(cached["schema"])
    schema = build_schema(assembly)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"stamp": stamp, "schema": schema}))
    return schema


# --------------------------------------------------------------------------- HCL


def parse_tf(path: Path) -> dict[str, Any]:
    opts = SerializationOptions(strip_string_quotes=True)
    return dict(hcl2.loads(path.read_text(), serialization_options=opts))


def _is_block_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
    )


def _labelled(section: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """[{label: body}] -> [(label, body)]."""
    out = []
    for item in section:
        for label, body in item.items():
            if isinstance(body, dict):
                out.append((label, body))
    return out


@dataclass
class Checker:
    schema: dict[str, Any]
    problems: list[str] = field(default_factory=list)
    _module_cache: dict[Path, dict[str, bool]] = field(default_factory=dict)

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    # ---- blocks

    def check_body(
        self,
        body: dict[str, Any],
        block: dict[str, Any],
        where: str,
        meta_args: set[str] = frozenset(),  # type: ignore[assignment]
        meta_blocks: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> None:
        attrs: dict[str, bool] = block["attrs"]
        blocks: dict[str, Any] = block["blocks"]
        present: set[str] = set()
        for key, value in body.items():
            if key.startswith("__"):
                continue
            if key == "dynamic" and isinstance(value, list):
                for dyn_name, dyn in _labelled(value):
                    present.add(dyn_name)
                    self.check_dynamic(dyn_name, dyn, blocks, f"{where}.dynamic.{dyn_name}")
                continue
            if key in meta_blocks and _is_block_list(value):
                continue
            if key in meta_args:
                continue
            present.add(key)
            if _is_block_list(value):
                if key in blocks:
                    for i, nested in enumerate(value):
                        self.check_body(nested, blocks[key], f"{where}.{key}[{i}]")
                elif key in attrs:
                    self.problem(where, f'"{key}" is an argument, not a block: write {key} = ...')
                else:
                    self.problem(where, f'unknown block "{key}"{_hint(key, blocks, attrs)}')
            else:
                if key in attrs:
                    continue
                if key in blocks:
                    self.problem(where, f'"{key}" is a block, not an argument: write {key} {{ ... }}')
                else:
                    self.problem(where, f'unknown argument "{key}"{_hint(key, attrs, blocks)}')
        for name, required in sorted(attrs.items()):
            if required and name not in present:
                self.problem(where, f'missing required argument "{name}"')
        for name, nested in sorted(blocks.items()):
            if nested["required"] and name not in present:
                self.problem(where, f'missing required block "{name}"')

    def check_dynamic(self, name: str, dyn: dict[str, Any], blocks: dict[str, Any], where: str) -> None:
        if name not in blocks:
            self.problem(where, f'dynamic block of unknown block type "{name}"{_hint(name, blocks, {})}')
            return
        if "for_each" not in dyn:
            self.problem(where, 'dynamic block without "for_each"')
        contents = dyn.get("content")
        if not _is_block_list(contents):
            self.problem(where, 'dynamic block without a "content" block')
            return
        for extra in set(dyn) - {"for_each", "iterator", "labels", "content"}:
            if not extra.startswith("__"):
                self.problem(where, f'unknown argument "{extra}" in a dynamic block')
        for content in contents:
            self.check_body(content, blocks[name], f"{where}.content")

    # ---- top level

    def check_file(self, path: Path) -> None:
        try:
            doc = parse_tf(path)
        except Exception as exc:  # the parser raises several exception types
            self.problem(str(path), f"cannot parse: {exc}")
            return
        self.check_doc(doc, path)

    def check_doc(self, doc: dict[str, Any], path: Path) -> None:
        for kind in ("resource", "data"):
            for rtype, instances in _labelled(doc.get(kind, [])):
                for rname, body in _labelled([instances]):
                    where = f"{path}: {'data.' if kind == 'data' else ''}{rtype}.{rname}"
                    self.check_resource(kind, rtype, body, where)
        for pname, body in _labelled(doc.get("provider", [])):
            where = f"{path}: provider.{pname}"
            if pname == "google" and self.schema.get("provider"):
                self.check_body(body, self.schema["provider"], where, PROVIDER_META_ARGS)
        for mname, body in _labelled(doc.get("module", [])):
            self.check_module_call(mname, body, path)
        for cname, body in _labelled(doc.get("check", [])):
            for dtype, instances in _labelled(body.get("data", [])):
                for dname, dbody in _labelled([instances]):
                    where = f"{path}: check.{cname}.data.{dtype}.{dname}"
                    self.check_resource("data", dtype, dbody, where)

    def check_resource(self, kind: str, rtype: str, body: dict[str, Any], where: str) -> None:
        if not rtype.startswith("google_"):
            # Only hashicorp/google is pinned and checked; other providers are not used here.
            self.problem(where, f'type "{rtype}" is not from the google provider')
            return
        table: dict[str, Any] = self.schema[kind]
        if rtype not in table:
            what = "resource" if kind == "resource" else "data source"
            self.problem(where, f'unknown {what} type "{rtype}"{_hint(rtype, table, {})}')
            return
        self.check_body(body, table[rtype], where, RESOURCE_META_ARGS, RESOURCE_META_BLOCKS)

    def module_variables(self, directory: Path) -> dict[str, bool]:
        """Variable name -> required (no default) of the module in `directory`."""
        directory = directory.resolve()
        if directory not in self._module_cache:
            variables: dict[str, bool] = {}
            for tf in sorted(directory.glob("*.tf")):
                try:
                    doc = parse_tf(tf)
                except Exception as exc:  # the parser raises several exception types
                    self.problem(str(tf), f"cannot parse module file: {exc}")
                    doc = {}
                for vname, vbody in _labelled(doc.get("variable", [])):
                    variables[vname] = "default" not in vbody
            self._module_cache[directory] = variables
        return self._module_cache[directory]

    def check_module_call(self, name: str, body: dict[str, Any], path: Path) -> None:
        where = f"{path}: module.{name}"
        source = body.get("source")
        if not isinstance(source, str):
            self.problem(where, 'module call without a literal "source"')
            return
        if not source.startswith(("./", "../")):
            return  # registry or remote modules: not used here, nothing local to compare
        directory = path.parent / source
        if not directory.is_dir() or not list(directory.glob("*.tf")):
            self.problem(where, f'module source "{source}" is not a folder with .tf files')
            return
        variables = self.module_variables(directory)
        given = {k for k in body if not k.startswith("__") and k not in MODULE_META_ARGS}
        for key in sorted(given - set(variables)):
            self.problem(where, f'module has no variable "{key}"{_hint(key, variables, {})}')
        for key in sorted(k for k, required in variables.items() if required and k not in given):
            self.problem(where, f'required module variable "{key}" is not given')


def _hint(name: str, *candidates: dict[str, Any]) -> str:
    import difflib

    names = [n for c in candidates for n in c]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return f' (did you mean "{close[0]}"?)' if close else ""


def tf_files(roots: list[Path]) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        if root.is_file():
            files.append(root)
            continue
        files.extend(p for p in sorted(root.rglob("*.tf")) if ".terraform" not in p.relative_to(root).parts)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[Path("infra/terraform")])
    parser.add_argument(
        "--schema-cache",
        type=Path,
        default=Path("build/tfschema/google-schema.json"),
        help="where to cache the extracted schema ('' disables the cache)",
    )
    args = parser.parse_args(argv)
    cache = args.schema_cache if str(args.schema_cache) else None
    schema = load_schema(cache)
    if schema.get("provider_version") != EXPECTED_PROVIDER_VERSION:
        print(
            f"schema is for provider {schema.get('provider_version')}, expected {EXPECTED_PROVIDER_VERSION}"
        )
        return 1
    files = tf_files(args.paths)
    if not files:
        print(f"no .tf files under {', '.join(map(str, args.paths))}")
        return 1
    checker = Checker(schema)
    for path in files:
        checker.check_file(path)
    for problem in checker.problems:
        print(problem)
    print(
        f"tfschema_check: {len(files)} files, provider {schema['provider_version']} "
        f"({len(schema['resource'])} resource types, {len(schema['data'])} data sources): "
        f"{len(checker.problems)} problem(s)",
        file=sys.stderr,
    )
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
