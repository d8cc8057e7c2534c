"""The local stack's layout: which services run (Firestore emulator, Cloud Tasks emulator,
Mercado Pago simulator, the storefront, the functions and their Cloud Run front end), on
which ports, with which environment; ``start_stack`` starts it under the supervisor.

``standard_services`` builds the whole local platform for given ports and options (those and
each function's environment: ``local.stack_config``; the fixed names and fake credentials:
``local.constants``, both re-exported here); ``LocalStack`` is a supervised ``Stack`` that
knows its ports, options and URLs and writes them to its state file. The generic supervisor
(processes, restart policy, readiness waits, state file) is ``local.supervisor``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from local.constants import (
    FUNCTIONS,
    HOST,
    LOCATION,
    MERCHANT_WEBHOOK_SECRET,
    MP_ACCESS_TOKEN,
    MP_PUBLIC_KEY,
    MP_WEBHOOK_SECRET,
    PROJECT_ID,
    RATE_LIMIT_KEY,
    REPO_ROOT,
    SCHEDULER_SERVICE_ACCOUNT,
    TASKS_SERVICE_ACCOUNT,
)
from local.firestore_emulator import firestore_service
from local.stack_config import (
    CORS_ALLOWED_ORIGINS,
    DEV_ORIGIN_PORTS,
    LOCAL_LIMITS,
    StackOptions,
    StackPorts,
    StackUrls,
    cors_origins,
    function_env,
    function_threads,
    service_env,
    stack_urls,
)
from local.supervisor import RestartPolicy, ServiceSpec, Stack

# The layout's public names, with the configuration and constants it is built from.
__all__ = [
    "CORS_ALLOWED_ORIGINS",
    "DEV_ORIGIN_PORTS",
    "FUNCTIONS",
    "HOST",
    "LOCAL_LIMITS",
    "LOCATION",
    "MERCHANT_WEBHOOK_SECRET",
    "MP_ACCESS_TOKEN",
    "MP_PUBLIC_KEY",
    "MP_WEBHOOK_SECRET",
    "PROJECT_ID",
    "RATE_LIMIT_KEY",
    "REPO_ROOT",
    "SCHEDULER_SERVICE_ACCOUNT",
    "STATE_FILE",
    "TASKS_SERVICE_ACCOUNT",
    "LocalStack",
    "StackOptions",
    "StackPorts",
    "StackUrls",
    "cors_origins",
    "default_run_dir",
    "find_functions_framework",
    "frontend_service",
    "function_env",
    "stack_urls",
    "standard_services",
    "start_stack",
    "storefront_service",
]


def find_functions_framework(opts: StackOptions | None = None) -> str:
    """The project venv's ``functions-framework`` console script."""
    if opts is not None and opts.functions_framework:
        return opts.functions_framework
    candidates = [
        Path(opts.python if opts else sys.executable).parent / "functions-framework",
        REPO_ROOT / ".venv" / "bin" / "functions-framework",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("functions-framework")
    if found:
        return found
    raise FileNotFoundError("functions-framework not found (is the project venv installed?)")


def _fmt_seconds(value: float) -> str:
    return f"{value:g}"


def standard_services(
    ports: StackPorts | None = None, options: StackOptions | None = None, host: str = HOST
) -> list[ServiceSpec]:
    """Firestore emulator, Cloud Tasks emulator, MP simulator, then the functions (FUNCTIONS)."""
    p = ports or StackPorts.from_env()
    opts = options or StackOptions()
    urls = stack_urls(p, host)
    py = opts.python
    senv = service_env(opts)
    timeout = opts.start_timeout
    services = [
        # The emulator's chatter (and its expected Java stack traces) stays in firestore.log.
        replace(firestore_service(p.firestore, host=host, env=senv), timeout=max(timeout, 60.0),
                console=False),
        ServiceSpec(
            name="cloudtasks",
            argv=[
                py,
                "-m",
                "local.cloudtasks_emulator",
                "--host",
                host,
                "--grpc-port",
                str(p.tasks_grpc),
                "--http-port",
                str(p.tasks_http),
                "--project",
                opts.project,
                "--location",
                opts.location,
                "--queue",
                opts.fulfill_queue,
                "--queue",
                opts.merchant_events_queue,
                "--time-scale",
                _fmt_seconds(opts.time_scale),
            ],
            env=senv,
            cwd=REPO_ROOT,
            ready_url=urls.tasks_http + "/healthz",
            ready_status=200,
            timeout=timeout,
            url=urls.tasks_http,
            stop_wave=1,
            ports=(p.tasks_grpc, p.tasks_http),
        ),
        ServiceSpec(
            name="simulator",
            argv=[
                py,
                "-m",
                "local.mp_simulator",
                "--host",
                host,
                "--port",
                str(p.simulator),
                "--access-token",
                MP_ACCESS_TOKEN,
                "--public-key",
                MP_PUBLIC_KEY,
                "--webhook-secret",
                MP_WEBHOOK_SECRET,
                "--currency",
                opts.currency,
                "--cont-delay",
                _fmt_seconds(opts.cont_delay),
                "--retry-delays",
                ",".join(_fmt_seconds(d) for d in opts.retry_delays),
            ],
            env=senv,
            cwd=REPO_ROOT,
            ready_url=urls.simulator + "/_sim/health",
            ready_status=200,
            timeout=timeout,
            url=urls.simulator,
            stop_wave=1,
            ports=(p.simulator,),
        ),
    ]
    services.append(storefront_service(p, opts, urls, senv, host))
    ff = find_functions_framework(opts)
    fenv = function_env(p, opts, host)
    for name, port, url in (
        ("create_payment", p.create_payment, urls.create_payment),
        ("ipn_webhook", p.ipn_webhook, urls.ipn_webhook),
        ("fulfill", p.fulfill_internal, urls.fulfill_internal),  # behind run_frontend
        ("reconcile", p.reconcile_internal, urls.reconcile_internal),
    ):
        services.append(
            ServiceSpec(
                name=name,
                argv=[
                    ff,
                    f"--target={name}",
                    f"--source=entry_{name}.py",
                    f"--host={host}",
                    f"--port={port}",
                ],
                env={**fenv, **function_threads(name, opts)},
                cwd=REPO_ROOT,
                # create_payment answers GET /orders/<unknown> with 404; the others
                # answer GET / with some 4xx: any answer below 500 means it is serving.
                ready_url=url + ("/orders/x" if name == "create_payment" else "/"),
                ready_status=404 if name == "create_payment" else None,
                timeout=timeout,
                url=url,
                stop_wave=0,
                # gunicorn's quick shutdown, to the master only: it stops its worker itself. (On
                # SIGTERM the worker lingers up to ~2.5 s over idle kept-alive connections; a
                # worker signalled both by us and by its master can deadlock in its handler.)
                stop_signal=signal.SIGINT,
                stop_leader_only=True,
                start_group="functions",  # independent of each other: start them together
                ports=(port,),
                # A function keeps no state: one that dies (fault runs kill masters and
                # workers) is restarted; the emulators' death still stops the stack.
                restart=RestartPolicy(),
            )
        )
    services.append(frontend_service(p, urls, py, senv, host, timeout))
    return services


def storefront_service(p: StackPorts, opts: StackOptions, urls: StackUrls,
                       env: Mapping[str, str], host: str = HOST) -> ServiceSpec:
    """The reference checkout page (web/), pointed at this stack and the simulator's SDK."""
    return ServiceSpec(
        name="storefront",
        argv=[opts.python, "-m", "local.storefront", "--host", host,
              "--port", str(p.storefront), "--api-url", urls.create_payment,
              "--sdk-url", urls.simulator + "/js/v2",
              "--security-url", urls.simulator + "/v2/security.js",
              "--public-key", MP_PUBLIC_KEY],
        env=env,
        cwd=REPO_ROOT,
        ready_url=urls.storefront + "config.json",
        ready_status=200,
        timeout=opts.start_timeout,
        url=urls.storefront,
        stop_wave=0,
        ports=(p.storefront,),
    )


def frontend_service(ports: StackPorts, urls: StackUrls, python: str, env: Mapping[str, str],
                     host: str, timeout: float) -> ServiceSpec:
    """The stack's front end for fulfill (Cloud Tasks' account) and reconcile (the scheduler's):
    public ports ``ports.fulfill``/``ports.reconcile``, functions on the internal ones."""
    routes = [
        f"fulfill,{ports.fulfill},{urls.fulfill_internal},{urls.fulfill},{TASKS_SERVICE_ACCOUNT}",
        f"reconcile,{ports.reconcile},{urls.reconcile_internal},{urls.reconcile},"
        f"{SCHEDULER_SERVICE_ACCOUNT}",
    ]
    argv = [python, "-m", "local.run_frontend", "--host", host, "--certs-url", urls.certs]
    for route in routes:
        argv += ["--route", route]
    return ServiceSpec(
        name="run_frontend",
        argv=argv,
        env=env,
        cwd=REPO_ROOT,
        ready_url=urls.fulfill + "/",  # both ports are bound before either answers
        ready_status=401,  # no token: refused by the front end itself
        timeout=timeout,
        url=urls.fulfill,
        stop_wave=0,
        start_group="functions",
        ports=(ports.fulfill, ports.reconcile),
    )


class LocalStack(Stack):
    """The standard stack, with its ports, options and URLs."""

    def __init__(
        self,
        ports: StackPorts,
        options: StackOptions,
        run_dir: Path,
        *,
        console: bool = False,
        host: str = HOST,
        services: Sequence[ServiceSpec] | None = None,
        state_file: Path | None = None,
    ) -> None:
        super().__init__(
            services if services is not None else standard_services(ports, options, host),
            run_dir,
            console=console,
            state_file=state_file,
        )
        self.ports = ports
        self.options = options
        self.host = host
        self.endpoints = stack_urls(ports, host)

    @property
    def project(self) -> str:
        return self.options.project

    @property
    def function_env(self) -> dict[str, str]:
        return function_env(self.ports, self.options, self.host)

    def state_ports(self) -> dict[str, int]:
        return {f.name: int(getattr(self.ports, f.name)) for f in fields(self.ports)}

    def state_extra(self) -> dict[str, Any]:
        return {"project": self.project, "urls": self.endpoints.as_dict()}


STATE_FILE = REPO_ROOT / ".local-run" / "stack.json"  # make dev's ports and pids


def default_run_dir() -> Path:
    return REPO_ROOT / ".local-run" / time.strftime(f"%Y%m%d-%H%M%S-{os.getpid()}")


def start_stack(
    ports: StackPorts | None = None,
    options: StackOptions | None = None,
    *,
    run_dir: Path | None = None,
    console: bool = False,
    only: Sequence[str] | None = None,
    extra: Sequence[ServiceSpec] = (),
    state_file: Path | None = None,
) -> LocalStack:
    """Build and start the standard stack (``only``: a subset of service names, in order).

    ``extra`` services start first. Returns the running stack; stop it with ``.stop()`` or
    use it as a context manager.
    """
    p = ports or StackPorts.from_env()
    opts = options or StackOptions()
    services = standard_services(p, opts)
    if only is not None:
        unknown = set(only) - {s.name for s in services}
        if unknown:
            raise ValueError(f"unknown services: {sorted(unknown)}")
        services = [s for s in services if s.name in only]
    services = [*extra, *services]  # e.g. make dev's merchant-event receiver, needed by none
    stack = LocalStack(p, opts, run_dir or default_run_dir(), console=console, services=services,
                       state_file=state_file)
    stack.start()
    return stack
