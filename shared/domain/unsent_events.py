"""The order's list of its merchant events not yet handed to Cloud Tasks (``unsent_events``).

Every batch that stages an outbox event also adds the event's id to this array on the order,
and the commit that marks events sent removes them. A fulfil task has read the order anyway
(to apply the payment), so it knows from the order alone which older events are still unsent
and needs no outbox query: it sends those (read by id) and the ones its own commit staged.

Orders written before the list existed have no such field. Such an order may hold pending
events only if something other than its creation happened to it: a transition out of
``pending`` or a fraud alert (every stager writes one of these in the same batch as its
event). Those orders are *untracked*: their outbox is queried, and the first batch that stages
an event on one lists its older pending events too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELD = "unsent_events"


def listed(order: Mapping[str, Any]) -> list[str]:
    """The event ids the order names as unsent, in staging order."""
    ids = order.get(FIELD)
    return [str(i) for i in ids] if isinstance(ids, list) else []


def untracked(order: Mapping[str, Any]) -> bool:
    """True when the order may hold pending events it does not list (written before the list
    existed): its outbox must be queried."""
    if isinstance(order.get(FIELD), list):
        return False
    return (order.get("status") != "pending" or "fraud_alert" in order
            or "fraud_alert_cleared" in order)
