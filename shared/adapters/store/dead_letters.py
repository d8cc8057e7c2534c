"""Listing and replaying dead letters (fulfil tasks that ran out of retries)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from google.cloud import firestore

from shared.adapters.store.client import CALL_TIMEOUT, RETRY
from shared.adapters.store.ledger import DEAD_LETTERS
from shared.adapters.tasks import HttpTask, TaskQueue
from shared.platform.config import Settings


def list_dead_letters(db: firestore.Client, limit: int = 50,
                      include_replayed: bool = False) -> list[dict[str, Any]]:
    query: Any = db.collection(DEAD_LETTERS)
    if not include_replayed:
        query = query.where(filter=firestore.FieldFilter("replayed", "==", False))
    query = query.order_by("created_at", direction=firestore.Query.DESCENDING).limit(limit)
    return [{"id": d.id, **(d.to_dict() or {})}
            for d in query.stream(retry=RETRY, timeout=CALL_TIMEOUT)]


def replay(db: firestore.Client, settings: Settings, queue: TaskQueue, letter_id: str,
           now: datetime) -> str:
    """Send a dead letter's task to fulfil again; returns the new task id."""
    ref = db.collection(DEAD_LETTERS).document(letter_id)
    snap = ref.get(retry=RETRY, timeout=CALL_TIMEOUT)
    if not snap.exists:
        raise LookupError(letter_id)
    data = snap.to_dict() or {}
    task = data.get("task") or {}
    if "resource_id" not in task:
        raise ValueError(f"dead letter {letter_id} holds no replayable task ({data.get('reason')})")
    count = int(data.get("replay_count") or 0) + 1
    task_id = "d-" + hashlib.sha256(f"{letter_id}:{count}".encode()).hexdigest()
    body = {**task, "notification_id": task_id[2:], "action": "replay"}
    queue.enqueue(HttpTask(
        queue=settings.fulfill_queue, task_id=task_id, url=settings.fulfill_url,
        body=json.dumps(body, separators=(",", ":")).encode(),
        headers={"Content-Type": "application/json"},
        oidc_service_account=settings.tasks_service_account,
        oidc_audience=settings.fulfill_auth_audience or settings.fulfill_url,
        dispatch_deadline_seconds=60))
    ref.update({"replayed": True, "replayed_at": now, "replay_count": count,
                "replay_task": task_id}, retry=RETRY, timeout=CALL_TIMEOUT)
    return task_id
