"""In-memory fakes of the ports in ``shared.usecases.ports``, one module per port.

Honest on purpose: the same return types, the same errors (``OrderNotFound``, ``Contention``,
``ResourceNotFound``, ``EnqueueError``, Firestore's ``NotFound`` on an update of a missing
document) and the same idempotency as the Firestore, Cloud Tasks and SDK adapters;
``tests/integration/test_contracts_*.py`` run one suite against both. Faults are injected
with ``fail_next`` (the next call of a method raises the given error).
"""
