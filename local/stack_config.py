"""The standard stack's configuration: its ports, URLs and options, and the environment of
each function process (computed per docs/contracts.md).

``local.stack`` turns these into the services it starts; ``mpctl --local`` and the tests
compute the same environment from here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import ClassVar

from local.constants import (
    HOST,
    LOCATION,
    MERCHANT_WEBHOOK_SECRET,
    MP_ACCESS_TOKEN,
    MP_WEBHOOK_SECRET,
    PROJECT_ID,
    RATE_LIMIT_KEY,
    REPO_ROOT,
    SCHEDULER_SERVICE_ACCOUNT,
    TASKS_SERVICE_ACCOUNT,
)
from local.processes import free_ports

# Dev-server ports whose pages may call create_payment locally: the storefront's own (8080 by
# default, STOREFRONT_PORT) and the usual 3000 (Next.js, CRA) and 5173 (Vite).
DEV_ORIGIN_PORTS = (8080, 3000, 5173)
CORS_ALLOWED_ORIGINS = ",".join(f"http://{h}:{p}" for p in DEV_ORIGIN_PORTS
                                for h in ("127.0.0.1", "localhost"))


def cors_origins(storefront_port: int) -> str:
    """The local allow-list, with the storefront's port when it is not a default one."""
    ports = dict.fromkeys((storefront_port, *DEV_ORIGIN_PORTS))
    return ",".join(f"http://{h}:{p}" for p in ports for h in ("127.0.0.1", "localhost"))


# The attempt limits relaxed for local use (the walk-through and the tests reuse Mercado
# Pago's few test cards and e-mails); each is overridden by the same variable in the caller's
# environment (``MAX_ATTEMPTS_PER_ORDER=3 make dev``). The per-order cap keeps its default.
LOCAL_LIMITS = {
    "MAX_ATTEMPTS_PER_ORDER": "5",
    "RATE_LIMIT_CARD": "10000/60",
    "RATE_LIMIT_PAYER": "10000/60",
    "RATE_LIMIT_IP": "100000/60",
    "RATE_LIMIT_ORDERS_IP": "100000/60",
}


# gunicorn threads per function, as deployed: Terraform sets ``THREADS`` to each function's
# request concurrency (infra/terraform/modules/limits ``concurrency`` defaults; reconcile runs
# one request at a time, modules/stack). functions-framework's own default (4 per core) is
# not what any deployed instance runs; tests/checks/test_local_threads.py keeps them equal.
FUNCTION_THREADS = {"create_payment": 20, "ipn_webhook": 40, "fulfill": 20, "reconcile": 1}


def function_threads(name: str, options: StackOptions | None = None) -> dict[str, str]:
    """``THREADS`` for function ``name``'s process (``options.function_env`` may set it)."""
    if options is not None and "THREADS" in options.function_env:
        return {"THREADS": options.function_env["THREADS"]}
    return {"THREADS": str(FUNCTION_THREADS[name])}


@dataclass(frozen=True)
class StackPorts:
    create_payment: int = 8081
    ipn_webhook: int = 8082
    fulfill: int = 8083
    reconcile: int = 8084
    simulator: int = 8090
    firestore: int = 8085
    tasks_grpc: int = 8123
    tasks_http: int = 8124
    # fulfill's and reconcile's own ports, behind the local Cloud Run front end (which owns
    # `fulfill` and `reconcile` above): the container's port, never called directly
    fulfill_internal: int = 18083
    reconcile_internal: int = 18084
    storefront: int = 8080

    ENV_NAMES: ClassVar[dict[str, str]] = {
        "create_payment": "CREATE_PAYMENT_PORT",
        "ipn_webhook": "IPN_WEBHOOK_PORT",
        "fulfill": "FULFILL_PORT",
        "reconcile": "RECONCILE_PORT",
        "simulator": "MP_SIMULATOR_PORT",
        "firestore": "FIRESTORE_PORT",
        "tasks_grpc": "CLOUD_TASKS_PORT",
        "tasks_http": "CLOUD_TASKS_HTTP_PORT",
        "fulfill_internal": "FULFILL_INTERNAL_PORT",
        "reconcile_internal": "RECONCILE_INTERNAL_PORT",
        "storefront": "STOREFRONT_PORT",
    }

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackPorts:
        """The default ports, each overridable by its environment variable."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = env.get(cls.ENV_NAMES[f.name], "").strip()
            if raw:
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ValueError(f"{cls.ENV_NAMES[f.name]}={raw!r} is not a port") from None
        return cls(**values)

    @classmethod
    def free(cls, host: str = HOST) -> StackPorts:
        names = [f.name for f in fields(cls)]
        return cls(**dict(zip(names, free_ports(len(names), host), strict=True)))


@dataclass(frozen=True)
class StackOptions:
    """Knobs of the standard stack.

    ``time_scale`` scales the Cloud Tasks emulator's clock (backoffs); ``cont_delay`` and
    ``retry_delays`` are the simulator's delay before an asynchronous payment settles and
    between its webhook retries (seconds). ``base_env`` is the environment passed through to
    every service (default: ours); ``function_env`` is added to the functions' environment
    last (wins over everything).
    """

    time_scale: float = 1.0
    cont_delay: float = 2.0
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    project: str = PROJECT_ID
    location: str = LOCATION
    fulfill_queue: str = "fulfill:max_attempts=10,min_backoff=0.2,max_backoff=10,max_doublings=4"
    merchant_events_queue: str = "merchant-events:max_attempts=50,min_backoff=1,max_backoff=60"
    currency: str = "BRL"
    base_env: Mapping[str, str] | None = None
    function_env: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    functions_framework: str | None = None
    start_timeout: float = 30.0


@dataclass(frozen=True)
class StackUrls:
    create_payment: str
    ipn_webhook: str
    fulfill: str
    reconcile: str
    simulator: str
    firestore: str
    tasks_http: str
    firestore_host: str
    tasks_grpc_host: str
    certs: str
    fulfill_internal: str
    reconcile_internal: str
    storefront: str = ""

    def as_dict(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def stack_urls(ports: StackPorts, host: str = HOST) -> StackUrls:
    def base(port: int) -> str:
        return f"http://{host}:{port}"

    return StackUrls(
        create_payment=base(ports.create_payment),
        ipn_webhook=base(ports.ipn_webhook),
        fulfill=base(ports.fulfill),
        reconcile=base(ports.reconcile),
        simulator=base(ports.simulator),
        firestore=base(ports.firestore),
        tasks_http=base(ports.tasks_http),
        firestore_host=f"{host}:{ports.firestore}",
        tasks_grpc_host=f"{host}:{ports.tasks_grpc}",
        certs=base(ports.tasks_http) + "/oauth2/v1/certs",
        fulfill_internal=base(ports.fulfill_internal),
        reconcile_internal=base(ports.reconcile_internal),
        storefront=base(ports.storefront) + "/",
    )


# Variables the stack wires itself: the caller's environment never overrides them.
# (Secrets forced here must match what the simulator is started with.)
_FORCED_SECRETS = ("MP_ACCESS_TOKEN", "MP_WEBHOOK_SECRET")


def function_env(ports: StackPorts, options: StackOptions | None = None, host: str = HOST) -> dict[str, str]:
    """The complete environment of each function process (the same for all three).

    Order: caller's environment (passed through, e.g. ``MERCHANT_WEBHOOK_URL``, ``LOG_LEVEL``)
    < overridable local defaults (``CORS_ALLOWED_ORIGINS``, ``MERCHANT_WEBHOOK_SECRET``)
    < the stack's wiring (project, emulator hosts, URLs, simulator secrets)
    < ``options.function_env``.
    """
    opts = options or StackOptions()
    urls = stack_urls(ports, host)
    env = dict(os.environ if opts.base_env is None else opts.base_env)
    # A secret is given one way only: drop the _FILE/_SECRET variants of the forced ones.
    for name in _FORCED_SECRETS:
        env.pop(f"{name}_FILE", None)
        env.pop(f"{name}_SECRET", None)
    defaults = {
        "CORS_ALLOWED_ORIGINS": cors_origins(ports.storefront),
        "MERCHANT_WEBHOOK_SECRET": MERCHANT_WEBHOOK_SECRET,
        "RATE_LIMIT_KEY": RATE_LIMIT_KEY,
        **LOCAL_LIMITS,
    }
    for name, value in defaults.items():
        if name not in env and f"{name}_FILE" not in env and f"{name}_SECRET" not in env:
            env[name] = value
    env.update(
        {
            "GOOGLE_CLOUD_PROJECT": opts.project,
            "TASKS_LOCATION": opts.location,
            "FULFILL_QUEUE": _queue_name(opts.fulfill_queue),
            "MERCHANT_EVENTS_QUEUE": _queue_name(opts.merchant_events_queue),
            "FIRESTORE_EMULATOR_HOST": urls.firestore_host,
            "MP_API_BASE_URL": urls.simulator,
            "MP_ACCESS_TOKEN": MP_ACCESS_TOKEN,
            "MP_WEBHOOK_SECRET": MP_WEBHOOK_SECRET,
            "NOTIFICATION_URL": urls.ipn_webhook,
            "FULFILL_URL": urls.fulfill,
            "CLOUD_TASKS_EMULATOR_HOST": urls.tasks_grpc_host,
            "TASKS_SERVICE_ACCOUNT": TASKS_SERVICE_ACCOUNT,
            "FULFILL_AUTH_AUDIENCE": urls.fulfill,
            "RECONCILE_AUTH_AUDIENCE": urls.reconcile,
            "RECONCILE_ALLOWED_SERVICE_ACCOUNT": SCHEDULER_SERVICE_ACCOUNT,
            "FULFILL_ALLOWED_SERVICE_ACCOUNT": TASKS_SERVICE_ACCOUNT,
            "ID_TOKEN_CERTS_URL": urls.certs,
            # production's shape: the local front end checks the token, as Cloud Run does
            "CALLER_AUTH": "cloud_run_iam",
            "PYTHONPATH": _pythonpath(env.get("PYTHONPATH")),
            "PYTHONUNBUFFERED": "1",
        }
    )
    max_attempts = _queue_setting(opts.fulfill_queue, "max_attempts")
    if max_attempts is not None:  # the function must know which attempt is the queue's last
        env["FULFILL_MAX_ATTEMPTS"] = max_attempts
    env.update(opts.function_env)
    return env


def _queue_name(spec: str) -> str:
    """``"fulfill:max_attempts=10,..."`` -> ``"fulfill"``."""
    return spec.split(":", 1)[0].strip()


def _queue_setting(spec: str, key: str) -> str | None:
    """``_queue_setting("fulfill:max_attempts=10", "max_attempts")`` -> ``"10"``."""
    _, _, settings = spec.partition(":")
    for item in settings.split(","):
        name, _, value = item.partition("=")
        if name.strip() == key:
            return value.strip()
    return None


def _pythonpath(existing: str | None) -> str:
    parts = [str(REPO_ROOT)] + [p for p in (existing or "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(parts))


def service_env(opts: StackOptions) -> dict[str, str]:
    """The environment of the other services: the caller's (or ``base_env``), repo importable."""
    env = dict(os.environ if opts.base_env is None else opts.base_env)
    env["PYTHONPATH"] = _pythonpath(env.get("PYTHONPATH"))
    env["PYTHONUNBUFFERED"] = "1"
    return env
