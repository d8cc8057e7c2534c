"""What makes an unpaid order abandoned (the rules are in ``shared.usecases.expiry``)."""

from __future__ import annotations

from datetime import timedelta

# Payment states that may still end in an approved payment (or are one).
LIVE = ("pending", "in_process", "authorized", "approved")
# An expired order is kept this long (its ``expires_at`` TTL field) before Firestore deletes it.
EXPIRED_ORDER_KEEP = timedelta(days=30)
