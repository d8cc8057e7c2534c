"""The one home of what the test suites share (test files keep only their tests).

- ``waiting``: ``wait_until``, the one polling helper (wait for observable state, deadline).
- ``quiet``: ``wait_quiet``, the local stack has nothing left to do (before asserting absence).
- ``receiver``: ``Receiver``, the one recording HTTP receiver (merchant events, webhooks).
- ``simulator``: the official SDK aimed at the Mercado Pago simulator; ``delivered``.
- ``stack_fixtures``, ``functions``, ``browser``: fixtures for every folder (tests/conftest.py).
- ``e2e_client``: ``StackClient`` and ``mpctl``, driving the running stack as its callers do.
- ``firestore``, ``hooks``, ``idtokens``, ``openapi``, ``standin``: smaller helpers.
"""
