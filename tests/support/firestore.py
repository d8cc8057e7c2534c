"""A real Firestore client on an emulator, without leaving the environment changed."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock


def emulator_client(host: str, project: str) -> Any:
    """A ``google.cloud.firestore.Client`` on the emulator at ``host`` ("127.0.0.1:port").

    The client reads ``FIRESTORE_EMULATOR_HOST`` when it is built; the variable is set for
    that moment only."""
    from google.cloud import firestore

    with mock.patch.dict(os.environ, {"FIRESTORE_EMULATOR_HOST": host}):
        return firestore.Client(project=project)
