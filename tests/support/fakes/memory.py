"""The documents the store fakes share (what one Firestore database holds), and fault
injection common to every fake."""

from __future__ import annotations

import copy
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Memory:
    """Collections of documents by id: what the Firestore adapters write, in memory."""

    collections: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict))
    # Held by each fake operation that reads then writes: a commit is atomic, as a batch is.
    lock: threading.RLock = field(default_factory=threading.RLock)

    def collection(self, name: str) -> dict[str, dict[str, Any]]:
        return self.collections[name]

    def read(self, name: str, doc_id: str) -> dict[str, Any] | None:
        """A copy of a document (what a Firestore read returns), or None."""
        found = self.collections[name].get(doc_id)
        return copy.deepcopy(found) if found is not None else None


class Faults:
    """``fail_next("method", exc)``: the next call of ``method`` raises ``exc``."""

    def __init__(self) -> None:
        self._faults: dict[str, deque[BaseException]] = defaultdict(deque)

    def fail_next(self, method: str, exc: BaseException, times: int = 1) -> None:
        self._faults[method].extend([exc] * times)

    def _check(self, method: str) -> None:
        queued = self._faults.get(method)
        if queued:
            raise queued.popleft()
