"""The local platform's module structure: no import cycle, a generic supervisor, small files."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / "local"
MAX_LINES = 600
# The process supervisor knows nothing of the stack's layout (services, ports, environment).
GENERIC = {"local.supervisor", "local.processes", "local.console"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(LOCAL.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``local`` modules ``name`` imports anywhere in its file (functions and
    ``TYPE_CHECKING`` blocks included: a cycle there is still one in the design)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from local.a import b`: the module local.a.b if there is one, else local.a
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        found.update(t for t in targets if t in known and t != name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_import_graph_sees_the_stack_layout() -> None:
    graph = _graph()
    assert {"local.supervisor", "local.firestore_emulator", "local.stack_config"} <= graph["local.stack"]
    assert "local.supervisor" in graph["local.firestore_emulator"]
    assert "local.cloudtasks_emulator.store" in graph["local.cloudtasks_emulator.server"]


def test_no_import_cycle_in_local() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, " -> ".join(cycle or [])


def test_the_supervisor_is_generic() -> None:
    graph = _graph()
    for name in sorted(GENERIC):
        assert graph[name] <= GENERIC, f"{name} imports {sorted(graph[name] - GENERIC)}"


def test_no_file_in_local_is_over_600_lines() -> None:
    files = [p for p in LOCAL.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(files) > 20
    long = {str(p.relative_to(REPO)): n for p in files
            if (n := len(p.read_bytes().splitlines())) > MAX_LINES}
    assert not long, long
