"""Single-document reads in shared/ go through ``shared.adapters.store.reads`` (the unary
GetDocument RPC): no ``DocumentReference.get(...)`` and no ``Client.get_all(...)`` elsewhere,
so nobody brings back the streaming read and the gRPC spin thread each call of it costs."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / "shared"
READS = SHARED / "adapters" / "store" / "reads.py"
# The keywords of DocumentReference.get (a dict's .get takes none of them).
GET_KEYWORDS = {"retry", "timeout", "transaction", "field_paths", "read_time"}


def streaming_reads(source: str, filename: str = "<source>") -> list[int]:
    """The lines of ``source`` that call ``.get_all(...)``, ``.get()`` with no arguments or
    ``.get(...)`` with one of DocumentReference.get's keywords."""
    lines = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        keywords = {k.arg for k in node.keywords}
        bare_get = name == "get" and not node.args and not node.keywords
        if name == "get_all" or bare_get or (name == "get" and keywords & GET_KEYWORDS):
            lines.append(node.lineno)
    return lines


def test_the_check_sees_the_streaming_reads() -> None:
    source = ("snap = ref.get(retry=RETRY, timeout=CALL_TIMEOUT)\n"
              "snaps = db.get_all(refs)\n"
              "other = db.collection('c').document('d').get()\n"
              "fine = data.get('status') or data.get('x', 1)\n")
    assert streaming_reads(source) == [1, 2, 3]


def uses_firestore(source: str, filename: str = "<source>") -> bool:
    """Whether the module imports the Firestore client or the store adapters (where document
    references come from); other modules' ``.get()`` are dicts, context variables, HTTP."""
    imported: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported += [f"{node.module}.{alias.name}" for alias in node.names]
    return any(name.startswith(("google.cloud.firestore", "shared.adapters.store"))
               for name in imported)


def test_no_streaming_document_read_is_left_in_shared() -> None:
    modules = [p for p in sorted(SHARED.rglob("*.py"))
               if p != READS and uses_firestore(p.read_text(), str(p))]
    assert SHARED / "adapters" / "store" / "orders.py" in modules  # the filter finds them
    found = {f"{path.relative_to(REPO)}:{line}" for path in modules
             for line in streaming_reads(path.read_text(), str(path))}
    assert not found, ("read documents with shared.adapters.store.reads.read / read_all "
                       f"(unary GetDocument), not DocumentReference.get / get_all: {sorted(found)}")
