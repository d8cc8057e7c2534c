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

:func:`read` answers a real ``DocumentSnapshot`` (the client's own decoding), so callers keep
using ``.exists``, ``.to_dict()``, ``.id``, ``.reference`` and ``.update_time`` (a
``last_update_time`` precondition). A missing document comes back from ``GetDocument`` as
NOT_FOUND and is answered, like ``get()`` does, as a snapshot whose ``exists`` is False; a
NOT_FOUND that names a missing database is raised. Retries and deadlines are the caller's,
exactly as with ``get()``; a Firestore that does not answer raises what it raised before (see
``store.client.UNAVAILABLE``).
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
        return DocumentSnapshot(ref, None, exists=False, read_time=_now(), create_time=None,
                                update_time=None)
    return DocumentSnapshot(ref, _helpers.decode_dict(doc.fields, client), exists=True,
                            read_time=_now(), create_time=doc.create_time,
                            update_time=doc.update_time)


def read_all(refs: Sequence[Any], retry: Any = RETRY,
             timeout: float = CALL_TIMEOUT) -> list[DocumentSnapshot[Any]]:
    """A snapshot for each of ``refs``, in their order (a repeated reference is read once)."""
    unique = list({ref._document_path: ref for ref in refs}.values())
    if len(unique) <= UNARY_UP_TO:
        found = {ref._document_path: read(ref, retry, timeout) for ref in unique}
    else:
        client = unique[0]._client
        found = {snap.reference._document_path: snap
                 for snap in client.get_all(unique, retry=retry, timeout=timeout)}
    return [found[ref._document_path] for ref in refs]


def _database_missing(exc: gexc.NotFound) -> bool:
    """NOT_FOUND for the database itself ("The database ... does not exist"), not a document."""
    message = str(exc.message or "").lower()
    return "database" in message and "does not exist" in message


def _now() -> datetime:
    """GetDocument's answer carries no read time: the time it arrived stands for it."""
    return datetime.now(UTC)
