"""Reconcile against the simulator, the Firestore emulator and the Cloud Tasks emulator:
bounded work per run, resumable across runs, idempotent."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from local.cloudtasks_emulator import start_emulator
from local.mp_simulator.server import start_simulator
from shared.adapters.mercadopago.gateway import gateway
from shared.adapters.tasks import TaskQueue
from shared.platform.config import Settings
from shared.usecases.reconcile import Reconciler

TOKEN = "TEST-reconcile-token"


def _warm(db) -> None:
    """The emulator's first answer can take longer than the product's 5 s call timeout on a
    busy machine (JVM warm-up): wait for one answer first, with a deadline."""
    db.collection("reconcile_state").document("warm-up").get(timeout=60)


@pytest.fixture
def services() -> Iterator[tuple[object, object]]:
    sim = start_simulator(access_token=TOKEN, public_key="TEST-pk")
    tasks = start_emulator(queues=["fulfill:max_attempts=1"], time_scale=0.01)
    try:
        yield sim, tasks
    finally:
        tasks.stop()
        sim.stop()


def _payment(sim_url: str, order_id: str) -> str:
    token = requests.post(f"{sim_url}/v1/card_tokens", params={"public_key": "TEST-pk"}, json={
        "card_number": "5031433215406351", "expiration_month": 11, "expiration_year": 2030,
        "security_code": "123", "cardholder": {"name": "APRO"}}, timeout=5).json()["id"]
    r = requests.post(f"{sim_url}/v1/payments", timeout=5, headers={
        "Authorization": f"Bearer {TOKEN}", "X-Idempotency-Key": uuid.uuid4().hex}, json={
        "transaction_amount": 10, "token": token, "payment_method_id": "master", "installments": 1,
        "payer": {"email": "buyer@example.com"}, "external_reference": order_id})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_runs_are_bounded_resume_where_they_stopped_and_never_enqueue_twice(
        services, firestore_project, firestore_emulator, monkeypatch):
    sim, tasks = services
    payment_ids = [_payment(sim.url, f"ord_{i}") for i in range(5)]
    settings = Settings.from_env({
        "GOOGLE_CLOUD_PROJECT": firestore_project, "FULFILL_URL": "http://127.0.0.1:9/",
        "TASKS_SERVICE_ACCOUNT": "tasks@x.iam.gserviceaccount.com",
        "RECONCILE_MAX_ITEMS": "2", "RECONCILE_WINDOW_MINUTES": "60",
        "RECONCILE_PENDING_AFTER_MINUTES": "100000"})
    db = firestore_emulator.client(firestore_project)
    _warm(db)
    queue = TaskQueue(firestore_project, "us-central1", tasks.grpc_target)
    # the emulator's queue lives in its own project: aim the queue path at it
    monkeypatch.setattr(queue, "queue_path", lambda q: tasks.queue_path(q))
    reconciler = Reconciler.on_firestore(settings, db, lambda: gateway(TOKEN, sim.url, 5.0), lambda: queue)

    corrected: list[str] = []
    runs = 0
    while runs < 6:
        report = reconciler.run()
        runs += 1
        assert report.payments_seen <= 2  # bounded
        corrected += report.corrected
        if not report.truncated:
            break
    assert sorted(set(corrected)) == sorted(payment_ids)  # resumed until all were seen
    assert len(corrected) == len(payment_ids)             # and each was enqueued once
    # A fresh look over the whole window finds every task already queued: nothing twice.
    again = reconciler.run(since=timedelta(hours=1))
    assert again.enqueued == 0 and again.already_queued == again.payments_seen == 2
    assert datetime.now(UTC) > datetime.fromisoformat(again.window_start)


def test_sweep_finds_an_old_payment_updated_now(services, firestore_project, firestore_emulator,
                                                monkeypatch):
    """Mercado Pago's search ranges over date_created unless told otherwise: reconcile must
    ask for date_last_updated, or a payment created days ago and refunded now is missed."""
    sim, tasks = services
    old = _payment(sim.url, "ord_old")
    requests.post(f"{sim.url}/_sim/payments/{old}/backdate", json={"days": 3},
                  timeout=5).raise_for_status()
    requests.post(f"{sim.url}/_sim/payments/{old}/status", json={"status": "refunded"},
                  timeout=5).raise_for_status()
    settings = Settings.from_env({
        "GOOGLE_CLOUD_PROJECT": firestore_project, "FULFILL_URL": "http://127.0.0.1:9/",
        "TASKS_SERVICE_ACCOUNT": "tasks@x.iam.gserviceaccount.com",
        "RECONCILE_WINDOW_MINUTES": "60", "RECONCILE_PENDING_AFTER_MINUTES": "100000"})
    queue = TaskQueue(firestore_project, "us-central1", tasks.grpc_target)
    monkeypatch.setattr(queue, "queue_path", lambda q: tasks.queue_path(q))
    reconciler = Reconciler.on_firestore(settings, firestore_emulator.client(firestore_project),
                            lambda: gateway(TOKEN, sim.url, 5.0), lambda: queue)
    report = reconciler.run()
    assert report.corrected == [old]


def _reconciler(sim, tasks, firestore_project, firestore_emulator, monkeypatch,
                **env: str) -> Reconciler:
    settings = Settings.from_env({
        "GOOGLE_CLOUD_PROJECT": firestore_project, "FULFILL_URL": "http://127.0.0.1:9/",
        "TASKS_SERVICE_ACCOUNT": "tasks@x.iam.gserviceaccount.com",
        "RECONCILE_WINDOW_MINUTES": "60", "RECONCILE_PENDING_AFTER_MINUTES": "100000", **env})
    db = firestore_emulator.client(firestore_project)
    _warm(db)
    queue = TaskQueue(firestore_project, "us-central1", tasks.grpc_target)
    monkeypatch.setattr(queue, "queue_path", lambda q: tasks.queue_path(q))
    return Reconciler.on_firestore(settings, db, lambda: gateway(TOKEN, sim.url, 5.0), lambda: queue)


def test_repeated_since_runs_move_through_a_window_larger_than_one_run(
        services, firestore_project, firestore_emulator, monkeypatch):
    """`mpctl reconcile --since 1h` run again and again with more payments in the window than
    one run covers: each run continues where the previous one stopped, until all are seen."""
    sim, tasks = services
    payment_ids = {_payment(sim.url, f"ord_w{i}") for i in range(130)}
    reconciler = _reconciler(sim, tasks, firestore_project, firestore_emulator, monkeypatch,
                             RECONCILE_MAX_ITEMS="50")
    corrected: list[str] = []
    for _ in range(8):
        report = reconciler.run(since=timedelta(hours=1))
        assert report.payments_seen <= 50
        corrected += report.corrected
        if not report.truncated:
            break
    assert set(corrected) == payment_ids
    assert len(corrected) == len(payment_ids)


class _SameInstantMercadoPago:
    """Mercado Pago's search (the simulator's own implementation, local.mp_simulator.search)
    over payments that all share one date_last_updated: more than a page in one millisecond."""

    def __init__(self, count: int) -> None:
        from local.mp_simulator import clock

        stamp = clock.iso(datetime.now(UTC) - timedelta(minutes=5))
        self.docs = [{"id": 9_000_000 + i, "status": "approved", "status_detail": "accredited",
                      "transaction_amount": 10, "currency_id": "BRL",
                      "external_reference": f"ord_same_{i}", "date_created": stamp,
                      "date_last_updated": stamp} for i in range(count)]
        self.searches = 0

    def search_payments_updated(self, since: datetime, until: datetime, *, limit: int,
                                offset: int = 0) -> tuple[list[object], int]:
        from local.mp_simulator.search import search
        from shared.adapters.mercadopago.gateway import updated_filters
        from shared.adapters.mercadopago.models import PaymentSnapshot

        self.searches += 1
        filters = updated_filters(since, until, limit, offset)
        answer = search(self.docs, {k: str(v) for k, v in filters.items()})
        return ([PaymentSnapshot.from_api(r) for r in answer["results"]],
                int(answer["paging"]["total"]))


def test_payments_sharing_one_instant_are_all_covered_once_across_runs(
        services, firestore_project, firestore_emulator, monkeypatch):
    """250 payments updated in the same millisecond, at most 100 per run: the cursor keeps the
    instant and the ids seen at it, pages on by offset, and every payment is enqueued once."""
    _, tasks = services
    fake = _SameInstantMercadoPago(250)
    settings = Settings.from_env({
        "GOOGLE_CLOUD_PROJECT": firestore_project, "FULFILL_URL": "http://127.0.0.1:9/",
        "TASKS_SERVICE_ACCOUNT": "tasks@x.iam.gserviceaccount.com",
        "RECONCILE_MAX_ITEMS": "100", "RECONCILE_WINDOW_MINUTES": "60",
        "RECONCILE_PENDING_AFTER_MINUTES": "100000"})
    db = firestore_emulator.client(firestore_project)
    _warm(db)
    queue = TaskQueue(firestore_project, "us-central1", tasks.grpc_target)
    monkeypatch.setattr(queue, "queue_path", lambda q: tasks.queue_path(q))
    reconciler = Reconciler.on_firestore(settings, db, lambda: fake, lambda: queue)  # type: ignore[arg-type]
    corrected: list[str] = []
    for _ in range(6):
        report = reconciler.run(since=timedelta(hours=1))
        assert report.payments_seen <= 100
        corrected += report.corrected
        if report.window_done:
            break
    assert report.window_done
    assert sorted(corrected) == sorted(str(d["id"]) for d in fake.docs)  # each once
