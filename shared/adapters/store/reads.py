"""Point reads of Firestore documents with the unary ``GetDocument`` RPC.

``DocumentReference.get()`` and ``Client.get_all()`` use ``BatchGetDocuments``, a
server-streaming RPC. For every streaming call made while no other call is in flight, grpcio
starts a "channel spin" thread (``grpc/_channel.py``, ``_run_channel_spin_thread``), and
handing the answer over between threads costs about 1 ms of CPU per call; a unary call is
answered on the calling thread. ``bench/firestore_calls.py`` (google-cloud-firestore 2.34,
grpcio 1.85, the emulator, one thread; medians of two runs on a busy shared machine, the
table in docs/performance.md), CPU per call: ``DocumentReference.get()`` 1.7-1.8 ms,
:func:`read` 1.1 ms (a missing document 0.8 ms); ``get_all`` of 2 / 3 / 5 documents
2.6-2.7 / 3.5-3.7 / 4.9-5.3 ms against 1.9-2.0 / 3.4-3.8 / 5.3-5.5 ms for as many unary
reads. Two unary reads cost less CPU than one ``get_all`` of two, but they are two round trips
(two network latencies) where ``get_all`` is one, and round trips per paid order are a figure
that must not grow (``tests/integration/test_load.py``): :func:`read_all` reads a single
document with :func:`read` and several with one ``get_all``.

:func:`read` and :func:`read_all` answer a ``DocumentSnapshot`` (a :class:`Snapshot`: the
client's own decoding and class, minus one copy), so callers keep
using ``.exists``, ``.to_dict()``, ``.id``, ``.reference`` and ``.update_time`` (a
``last_update_time`` precondition). A missing document comes back from ``GetDocument`` as
NOT_FOUND and is answered, like ``get()`` does, as a snapshot whose ``exists`` is False; a
NOT_FOUND that names a missing database is raised. Retries and deadlines are the caller's,
exactly as with ``get()``; a Firestore that does not answer raises what it raised before (see
``store.client.UNAVAILABLE``).

The client's ``DocumentSnapshot`` deep-copies the data it is given ("so callers can't modify
this value") and again on every ``to_dict()``. The data :func:`read` and :func:`read_all`
decode is fresh and held by nobody else, so :class:`Snapshot` skips the first copy (about
0.45 ms of CPU for an order document with its history); ``to_dict()`` still answers a deep
copy, as the client's does. :func:`read_all` decodes ``BatchGetDocuments``' answers itself for
that reason (the same request and parsing as ``Client.get_all``).
"""


from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.base_document import DocumentSnapshot

from shared.adapters.store.client import CALL_TIMEOUT, RETRY

# Up to this many documents, read_all makes unary reads; above it, one BatchGetDocuments
# (one round trip, whatever the number of documents).
UNARY_UP_TO = 1


class Snapshot(DocumentSnapshot):  # type: ignore[type-arg]
    """A ``DocumentSnapshot`` of data decoded for it alone: kept without a defensive copy."""

    def __init__(self, reference: Any, data: Any, exists: bool,
                 read_time: Any, create_time: Any, update_time: Any) -> None:
        self._reference = reference
        self._data = data
        self._exists = exists
        self.read_time = read_time
        self.create_time = create_time
        self.update_time = update_time


def read(ref: Any, retry: Any = RETRY, timeout: float = CALL_TIMEOUT) -> DocumentSnapshot[Any]:
    """The document at ``ref`` now (``exists`` False when there is none), in one unary call."""
    client = ref._client
    try:
        doc = client._firestore_api.get_document(
            request={"name": ref._document_path}, metadata=client._rpc_metadata,
            retry=retry, timeout=timeout)
    except gexc.NotFound as exc:
        if _database_missing(exc):
            raise
        return Snapshot(ref, None, exists=False, read_time=_now(), create_time=None,
                        update_time=None)
    return Snapshot(ref, _helpers.decode_dict(doc.fields, client), exists=True,
                    read_time=_now(), create_time=doc.create_time, update_time=doc.update_time)


def read_all(refs: Sequence[Any], retry: Any = RETRY,
             timeout: float = CALL_TIMEOUT) -> list[DocumentSnapshot[Any]]:
    """A snapshot for each of ``refs``, in their order (a repeated reference is read once)."""
    unique = list({ref._document_path: ref for ref in refs}.values())
    if len(unique) <= UNARY_UP_TO:
        found = {ref._document_path: read(ref, retry, timeout) for ref in unique}
    else:
        found = _batch_get(unique, retry, timeout)
    return [found[ref._document_path] for ref in refs]


def _batch_get(refs: Sequence[Any], retry: Any, timeout: float) -> dict[str, DocumentSnapshot[Any]]:
    """One ``BatchGetDocuments`` for ``refs`` (distinct), as ``Client.get_all`` sends it."""
    client = refs[0]._client
    by_path = {ref._document_path: ref for ref in refs}
    answers = client._firestore_api.batch_get_documents(
        request={"database": client._database_string, "documents": list(by_path)},
        metadata=client._rpc_metadata, retry=retry, timeout=timeout)
    found: dict[str, DocumentSnapshot[Any]] = {}
    for answer in answers:
        kind = answer._pb.WhichOneof("result")
        if kind == "found":
            doc = answer.found
            found[doc.name] = Snapshot(by_path[doc.name], _helpers.decode_dict(doc.fields, client),
                                       exists=True, read_time=answer.read_time,
                                       create_time=doc.create_time, update_time=doc.update_time)
        elif kind == "missing":
            found[answer.missing] = Snapshot(by_path[answer.missing], None, exists=False,
                                             read_time=answer.read_time, create_time=None,
                                             update_time=None)
        else:
            raise ValueError(f"unexpected BatchGetDocuments result {kind!r}")
    return found


def _database_missing(exc: gexc.NotFound) -> bool:
    """NOT_FOUND for the database itself ("The database ... does not exist"), not a document."""
    message = str(exc.message or "").lower()
    return "database" in message and "does not exist" in message


def _now() -> datetime:
    """GetDocument's answer carries no read time: the time it arrived stands for it."""
    return datetime.now(UTC)
