"""The local platform's fixed names: where the repository is, the loopback host, the project,
and the obviously fake credentials and service accounts that the stack wires together.

A leaf module (it imports nothing of ``local``): the services' own modules (the Firestore
launcher, the seed) and the stack layout (``local.stack``) all read these from here.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

PROJECT_ID = "demo-mp-local"
LOCATION = "us-central1"
HOST = "127.0.0.1"
MP_ACCESS_TOKEN = "TEST-local-access-token"
MP_PUBLIC_KEY = "TEST-local-public-key"
MP_WEBHOOK_SECRET = "dev-webhook-secret"
MERCHANT_WEBHOOK_SECRET = "dev-merchant-webhook-secret"
TASKS_SERVICE_ACCOUNT = f"tasks-invoker@{PROJECT_ID}.iam.gserviceaccount.com"
# Cloud Scheduler's identity for the reconcile job (its OIDC token's `email`).
SCHEDULER_SERVICE_ACCOUNT = f"scheduler@{PROJECT_ID}.iam.gserviceaccount.com"
# Obviously fake: keys the hashes of cards, e-mails and addresses the attempt limits count.
RATE_LIMIT_KEY = "local-fake-rate-limit-key"
FUNCTIONS = ("create_payment", "ipn_webhook", "fulfill", "reconcile")
