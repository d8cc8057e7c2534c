"""The safety net in tests/conftest.py: a test's changes to os.environ end with the test.

The two tests run in file order: the first changes the environment without undoing it,
the second sees the environment as it was before the first.
"""

import os

LEAKED = "TEST_ENVIRONMENT_RESTORED_LEAK"
CHANGED = "TEST_ENVIRONMENT_RESTORED_CHANGED"
REMOVED = "TEST_ENVIRONMENT_RESTORED_REMOVED"

os.environ[CHANGED] = "as imported"  # at collection: before any test's snapshot
os.environ[REMOVED] = "present"


def test_a_test_that_changes_the_environment_and_leaves_it_so():
    os.environ[LEAKED] = "leaked"
    os.environ[CHANGED] = "changed by a test"
    del os.environ[REMOVED]


def test_the_next_test_sees_the_environment_as_it_was():
    assert LEAKED not in os.environ
    assert os.environ[CHANGED] == "as imported"
    assert os.environ[REMOVED] == "present"
