"""Handing what a transition left to do over to fulfill, whoever applied the transition.

mpctl applies refunds and cancellations in its own process, whose environment need not have
the shop's URL, secret or hooks. The transition still writes its outbox event (and a
fulfilment marker left pending, with no lease); this module then sends fulfill one task
(topic ``order_handoff``) naming the order, and fulfill — where delivery and hooks are configured —
sends the events and completes the fulfilment. The task is named from what is pending, so
running the same command twice hands it over once.
"""

from __future__ import annotations

from shared.adapters.tasks import EnqueueError
from shared.platform import log
from shared.platform.config import Settings
from shared.usecases import fulfil_task
from shared.usecases.fulfil_task import FulfilTask
from shared.usecases.ports import FulfilmentMarkers, Outbox, TaskQueue


def pending_work(outbox: Outbox, markers: FulfilmentMarkers, order_id: str) -> list[str]:
    """Ids of the order's unsent events, plus ``fulfilment`` if its effects are not done."""
    work = sorted(str(e["event_id"]) for e in outbox.pending(order_id))
    marker = markers.fulfilment(order_id)
    if marker is not None and marker.get("state") != "done":
        work.append("fulfilment")
    return work


def hand_over(settings: Settings, queue: TaskQueue, outbox: Outbox, markers: FulfilmentMarkers,
              order_id: str) -> str | None:
    """Queue one fulfil task for the order if anything is pending; returns the task id.
    ``markers``: where fulfilment markers are read (the order store)."""
    work = pending_work(outbox, markers, order_id)
    if not work:
        return None
    if not settings.fulfill_url:
        log.warning("handoff_unavailable", "FULFILL_URL is not set: the order's events and "
                    "fulfilment wait for fulfill's next task for this order", order_id=order_id)
        return None
    task = FulfilTask.for_handoff(order_id, work)
    try:
        fulfil_task.enqueue(settings, queue, task)
    except EnqueueError as exc:
        # The transition is done; Mercado Pago's notification of it reaches fulfill anyway,
        # which sends the order's pending events then.
        log.error("handoff_failed", "could not queue the hand-over to fulfill",
                  order_id=order_id, error=type(exc).__name__)
        return None
    log.info("handed_over", "pending events and fulfilment handed to fulfill",
             order_id=order_id, pending=work)
    return task.name
