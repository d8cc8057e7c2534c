"""The instance's Firestore client, created once, with bounded retries and timeouts."""

from __future__ import annotations

import threading

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.cloud import firestore

# Firestore calls give up after a few seconds so a request answers 503 instead of hanging.
CALL_TIMEOUT = 5.0
RETRY = gretry.Retry(
    initial=0.1,
    maximum=1.0,
    multiplier=2.0,
    timeout=CALL_TIMEOUT,
    predicate=gretry.if_exception_type(
        gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError
    ),
)

# Failures that mean "Firestore is not answering": callers answer 503 and are retried.
UNAVAILABLE = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.RetryError,
    gexc.Unknown,
)

_lock = threading.Lock()
_clients: dict[tuple[str, str], firestore.Client] = {}


def client(project: str, database: str = "(default)") -> firestore.Client:
    with _lock:
        found = _clients.get((project, database))
        if found is None:
            found = _clients[(project, database)] = firestore.Client(
                project=project, database=database
            )
        return found


def reset() -> None:
    """Forget the clients (``shared.wiring.reset``)."""
    with _lock:
        _clients.clear()
