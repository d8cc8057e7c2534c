"""Fixtures every test folder may use: the local stack and the Firestore emulator."""

pytest_plugins = ["tests.support.stack_fixtures", "tests.support.browser"]
