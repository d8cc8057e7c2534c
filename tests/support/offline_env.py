"""An environment in which every entry point loads and nothing is contacted.

Every backing service points at a closed loopback port (127.0.0.1:9) and ``NO_GCE_CHECK`` stops
google-auth from probing the metadata server, so no traffic leaves the machine. Used by the
checks that load the functions in a fresh process (tests/checks/test_import_budget.py,
tests/infra/test_package.py).
"""

from __future__ import annotations

OFFLINE_ENV: dict[str, str] = {
    "GOOGLE_CLOUD_PROJECT": "demo-mp-local",
    "NOTIFICATION_URL": "http://127.0.0.1:9/ipn",
    "FULFILL_URL": "http://127.0.0.1:9/fulfill",
    "TASKS_SERVICE_ACCOUNT": "tasks@demo-mp-local.iam.gserviceaccount.com",
    "FIRESTORE_EMULATOR_HOST": "127.0.0.1:9",
    "CLOUD_TASKS_EMULATOR_HOST": "127.0.0.1:9",
    "SECRET_MANAGER_EMULATOR_HOST": "127.0.0.1:9",
    "MP_API_BASE_URL": "http://127.0.0.1:9",
    "FULFILL_AUTH_AUDIENCE": "http://127.0.0.1:9/fulfill",
    "FULFILL_ALLOWED_SERVICE_ACCOUNT": "tasks@demo-mp-local.iam.gserviceaccount.com",
    "RECONCILE_AUTH_AUDIENCE": "http://127.0.0.1:9/reconcile",
    "RECONCILE_ALLOWED_SERVICE_ACCOUNT": "scheduler@demo-mp-local.iam.gserviceaccount.com",
    "NO_GCE_CHECK": "true",
}
