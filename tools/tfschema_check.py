#!/usr/bin/env python3
"""Offline schema check of Terraform code against the pinned hashicorp providers.

The providers cannot be downloaded here, so `terraform validate` cannot run. This tool takes
the schemas of hashicorp/google 6.50.0 and hashicorp/time 0.13.1 from the PyPI packages
cdktf-cdktf-provider-google 16.12.1 and cdktf-cdktf-provider-time 11.0.1 (their jsii
assemblies, generated from those providers) and checks every .tf file under the given folders:

- every resource and data source type exists;
- every argument and nested block exists (including blocks written with `dynamic`), and
  arguments are not written as blocks nor blocks as arguments;
- required arguments and required nested blocks are present;
- meta-arguments (count, for_each, depends_on, provider, lifecycle, ...) are accepted;
- every call of a local module passes only variables the module declares, and every
  variable without a default;
- a module that declares the time provider pins the version the schema is for.

Run it in the venv that has python-hcl2 8.1.4 and both cdktf provider packages
(`make -f mk/infra.mk tfschema-check`). It never imports the cdktf packages (that would start
node): it reads the assembly files from site-packages and caches a compact schema as JSON.

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

# provider name => (site-packages folder, jsii type prefix, provider version it carries)
PROVIDERS = {
    "google": ("cdktf_cdktf_provider_google", "@cdktf/provider-google.", "6.50.0"),
    "time": ("cdktf_cdktf_provider_time", "@cdktf/provider-time.", "0.13.1"),
}
# Kept for callers that only know about the google provider.
PROVIDER_PACKAGE, ASSEMBLY_PREFIX, EXPECTED_PROVIDER_VERSION = PROVIDERS["google"]

RESOURCE_META_ARGS = {"count", "for_each", "depends_on", "provider"}
RESOURCE_META_BLOCKS = {"lifecycle", "provisioner", "connection"}
MODULE_META_ARGS = {"source", "version", "count", "for_each", "depends_on", "providers"}
PROVIDER_META_ARGS = {"alias"}

_DOC_LINK = re.compile(
    r"registry\.terraform\.io/providers/hashicorp/(?P<provider>\w+)/(?P<version>[0-9.]+)/docs/"
    r"(?P<kind>resources|data-sources)/(?P<name>\w+) (?P<tftype>[a-z]+_\w+)\}"
)
_ANCHOR = re.compile(r"registry\.terraform\.io/providers/hashicorp/\w+/[0-9.]+/docs/\S*#(\w+) ")


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


def _find_assembly(package: str) -> Path:
    purelib = Path(sysconfig.get_paths()["purelib"])
    found = sorted((purelib / package / "_jsii").glob("*.jsii.tgz"))
    if not found:
        raise SystemExit(
            f"{package} is not installed in this interpreter ({sys.executable}); "
            "run `make -f mk/infra.mk infra-tools`"
        )
    return found[0]


def _read_assembly(assembly: Path) -> dict[str, Any]:
    with tarfile.open(assembly, "r:gz") as tar:
        member = tar.getmember("package/.jsii")
        handle = tar.extractfile(member)
        if handle is None:
            raise SystemExit(f"no .jsii in {assembly}")
        return dict(json.load(handle))


def build_schema(assemblies: dict[str, Path]) -> dict[str, Any]:
    """One schema over every provider: resource and data source types are unique by prefix."""
    schema: dict[str, Any] = {
        "assemblies": {name: a.name for name, a in assemblies.items()},
        "provider_versions": {},
        "resource": {},
        "data": {},
        "providers": {},
    }
    for name, assembly in assemblies.items():
        prefix = PROVIDERS[name][1]
        types: dict[str, Any] = _read_assembly(assembly)["types"]
        for fqn, t in types.items():
            if t.get("kind") != "class" or not fqn.startswith(prefix):
                continue
            link = _DOC_LINK.search(t.get("docs", {}).get("summary", ""))
            if not link or link.group("provider") != name:
                continue
            config = t["initializer"]["parameters"][-1]["type"]["fqn"]
            kind = "resource" if link.group("kind") == "resources" else "data"
            schema["provider_versions"][name] = link.group("version")
            schema[kind][link.group("tftype")] = _block_schema(config, types)
        provider_cfgs = [
            f for f in types if f.startswith(prefix + "provider.") and f.endswith("ProviderConfig")
        ]
        if provider_cfgs:
            schema["providers"][name] = _block_schema(provider_cfgs[0], types)
    # The google provider's entries under their historical keys.
    schema["provider_version"] = schema["provider_versions"].get("google")
    schema["provider"] = schema["providers"].get("google")
    return schema


def load_schema(cache: Path | None) -> dict[str, Any]:
    assemblies = {name: _find_assembly(package) for name, (package, _, _) in PROVIDERS.items()}
    stamp = ";".join(f"{a.name}:{a.stat().st_size}" for a in assemblies.values())
    if cache and cache.exists():
        cached = json.loads(cache.read_text())
        if cached.get("stamp") == stamp:
            return dict(cached["schema"])
    schema = build_schema(assemblies)
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
            provider_schema = self.schema.get("providers", {}).get(pname)
            if provider_schema:
                self.check_body(body, provider_schema, where, PROVIDER_META_ARGS)
        for block in doc.get("terraform", []):
            self.check_required_providers(block, path)
        for mname, body in _labelled(doc.get("module", [])):
            self.check_module_call(mname, body, path)
        for cname, body in _labelled(doc.get("check", [])):
            for dtype, instances in _labelled(body.get("data", [])):
                for dname, dbody in _labelled([instances]):
                    where = f"{path}: check.{cname}.data.{dtype}.{dname}"
                    self.check_resource("data", dtype, dbody, where)

    def check_required_providers(self, block: dict[str, Any], path: Path) -> None:
        """A pinned provider other than google must be pinned to the version checked here."""
        for required in block.get("required_providers", []):
            if not isinstance(required, dict):
                continue
            for name, spec in required.items():
                if name.startswith("__") or name == "google" or not isinstance(spec, dict):
                    continue
                where = f"{path}: terraform.required_providers.{name}"
                if name not in PROVIDERS:
                    self.problem(where, f'provider "{name}" has no schema to check against')
                    continue
                expected = self.schema["provider_versions"].get(name)
                version = str(spec.get("version", "")).strip()
                if version not in (expected, f"= {expected}"):
                    self.problem(
                        where,
                        f'provider "{name}" must be pinned to {expected} (the checked schema), '
                        f"got {version!r}",
                    )

    def check_resource(self, kind: str, rtype: str, body: dict[str, Any], where: str) -> None:
        provider = rtype.split("_", 1)[0]
        if provider not in PROVIDERS:
            # Only the providers whose schema is pinned here may be used.
            self.problem(where, f'type "{rtype}" is not from a checked provider ({", ".join(PROVIDERS)})')
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
    for name, (_, _, expected) in PROVIDERS.items():
        found = schema.get("provider_versions", {}).get(name)
        if found != expected:
            print(f"schema is for {name} provider {found}, expected {expected}")
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
    versions = ", ".join(f"{name} provider {v}" for name, v in sorted(schema["provider_versions"].items()))
    print(
        f"tfschema_check: {len(files)} files, {versions} "
        f"({len(schema['resource'])} resource types, {len(schema['data'])} data sources): "
        f"{len(checker.problems)} problem(s)",
        file=sys.stderr,
    )
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main())
