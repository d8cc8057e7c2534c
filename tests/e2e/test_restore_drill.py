"""The local restore drill (docs/deploying.md, "Restoring Firestore"): pay an order on a stack
that exports its Firestore data when stopped (FIRESTORE_EXPORT_DIR), start again from that
export (FIRESTORE_IMPORT_DIR), and find the order, its payment and its fulfilment intact."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from local.firestore_emulator import EXPORT_NAME, find_export
from local.seed import seed
from local.stack import LocalStack, StackPorts, start_stack
from tests.support.e2e_client import StackClient
from tests.support.stack_fixtures import E2E_OPTIONS

pytestmark = pytest.mark.e2e

DRILL_COLLECTIONS = ("orders", "payments", "fulfilments", "outbox")


def _stack(tmp_path: Path, name: str, only: list[str] | None = None, **env: str) -> LocalStack:
    options = dataclasses.replace(E2E_OPTIONS, base_env={**os.environ, **env})
    return start_stack(StackPorts.free(), options, run_dir=tmp_path / name, only=only)


def _snapshot(client: StackClient, order_id: str) -> dict[str, list[dict[str, Any]]]:
    """The documents of the drill's collections that belong to ``order_id``."""
    found: dict[str, list[dict[str, Any]]] = {}
    for collection in DRILL_COLLECTIONS:
        docs = [d for d in client.docs(collection) if order_id in (d["_id"], d.get("order_id"))]
        found[collection] = sorted(docs, key=lambda d: str(d["_id"]))
    return found


def test_paid_order_survives_export_and_restart_from_the_export(tmp_path: Path) -> None:
    export_dir = tmp_path / "firestore-data"

    first = _stack(tmp_path, "before", FIRESTORE_EXPORT_DIR=str(export_dir))
    try:
        seed(first.project, first.endpoints.firestore_host)
        client = StackClient(first)
        answer = client.pay()
        assert answer.status_code == 201, answer.text
        order_id, payment_id = answer.json()["order_id"], answer.json()["payment_id"]
        paid = client.wait_order(order_id, "paid")
        client.wait_for(
            lambda: any(f["_id"] == order_id and f.get("state") == "done"
                        for f in client.docs("fulfilments")),
            what="fulfilment closed",
        )
        before = _snapshot(client, order_id)
    finally:
        first.stop()  # the emulator exports on the way out

    metadata = find_export(export_dir)
    assert metadata.parent == export_dir / EXPORT_NAME
    assert [p.name for p in export_dir.iterdir()] == [EXPORT_NAME]  # no partial export left
    assert before["fulfilments"] and before["payments"] and before["orders"]

    # Restart from the export: Firestore and the function that reads orders are enough.
    second = _stack(tmp_path, "after", only=["firestore", "create_payment"],
                    FIRESTORE_IMPORT_DIR=str(export_dir))
    try:
        client = StackClient(second)
        assert client.order(order_id) == paid
        after = _snapshot(client, order_id)
        assert after == before
        [fulfilment] = after["fulfilments"]
        assert fulfilment["state"] == "done"
        assert [p["_id"] for p in after["payments"]] == [payment_id]
        assert after["payments"][0]["status"] == "approved"
    finally:
        second.stop()
