"""Firestore: every collection and every query the product makes, in one place.

The emulator runs any query, production needs composite indexes: a new query goes here and
its index into ``infra/terraform`` (docs/contracts.md lists both).
"""
