"""``make dev``: the whole local platform on the default ports, seeded, with a walk-through.

    .venv/bin/python -m local.dev              # run until Ctrl-C (or until a service dies)
    .venv/bin/python -m local.dev --smoke      # pay one order end to end, stop; 0 if paid

Ports come from CREATE_PAYMENT_PORT, IPN_WEBHOOK_PORT, FULFILL_PORT, RECONCILE_PORT,
MP_SIMULATOR_PORT, FIRESTORE_PORT, CLOUD_TASKS_PORT, CLOUD_TASKS_HTTP_PORT, STOREFRONT_PORT,
FULFILL_INTERNAL_PORT, RECONCILE_INTERNAL_PORT (defaults in docs/contracts.md) and
MERCHANT_EVENTS_PORT (8089: the receiver printing merchant events, started unless
MERCHANT_WEBHOOK_URL is set). fulfill's and reconcile's public ports belong to the local Cloud
Run front end (local/run_frontend.py), which checks the caller's ID token and forwards to the
functions' internal ports. Every other variable of this environment (LOG_LEVEL...) reaches the
functions. Logs: ``.local-run/<run>/<service>.log``. While it runs, the ports and process ids
are in ``.local-run/stack.json`` (``mpctl --local`` reads them).

Keeping Firestore's data (the restore drill, docs/deploying.md): ``FIRESTORE_EXPORT_DIR=dir``
exports it to ``dir/firestore_export`` when the stack stops; ``FIRESTORE_IMPORT_DIR=dir``
starts from that export (local/firestore_emulator.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.console import say, tail_file
from local.processes import Terminated, free_ports, terminate_on_signals
from local.seed import seed
from local.stack import (
    HOST,
    LOCAL_LIMITS,
    MERCHANT_WEBHOOK_SECRET,
    MP_PUBLIC_KEY,
    REPO_ROOT,
    STATE_FILE,
    LocalStack,
    StackOptions,
    StackPorts,
    StackUrls,
    default_run_dir,
    function_env,
    start_stack,
)
from local.supervisor import ServiceSpec, StackError

TEST_CARD: dict[str, Any] = {
    "card_number": "5031433215406351",
    "expiration_month": 11,
    "expiration_year": 2030,
    "security_code": "123",
    "cardholder": {
        "name": "APRO",
        "identification": {"type": "CPF", "number": "12345678909"},
    },
}


def payment_body(token: str, product_id: str = "demo-product", quantity: int = 2) -> dict[str, Any]:
    return {
        "items": [{"product_id": product_id, "quantity": quantity}],
        "payer": {
            "email": "buyer@example.com",
            "identification": {"type": "CPF", "number": "12345678909"},
        },
        "payment": {
            "method": "card",
            "token": token,
            "payment_method_id": "master",
            "installments": 1,
        },
    }


def limits_line(env: dict[str, str]) -> str:
    """The attempt limits the functions run with (``LOCAL_LIMITS`` unless overridden)."""
    values = " ".join(f"{name}={env.get(name, '')}" for name in LOCAL_LIMITS)
    return f"  attempt limits   {values}\n"


def summary(urls: StackUrls, events_url: str | None = None, firestore_log: Path | None = None,
            limits: str = "") -> str:
    events = (f"  merchant events  {events_url}   (each event is printed below)\n"
              if events_url else "")
    log = f" log: {firestore_log}" if firestore_log else ""
    return f"""Local stack is up (project demo-mp-local, demo catalog seeded):
  checkout page    {urls.storefront}   <- open it and pay with the APRO test card
  create_payment   {urls.create_payment}
  ipn_webhook      {urls.ipn_webhook}
  fulfill          {urls.fulfill}   (Cloud Tasks' OIDC token; front end -> {urls.fulfill_internal})
  reconcile        {urls.reconcile}   (the scheduler's OIDC token; front end -> {urls.reconcile_internal})
  MP simulator     {urls.simulator}
  Firestore        {urls.firestore}   (FIRESTORE_EMULATOR_HOST={urls.firestore_host}){log}
  Cloud Tasks      {urls.tasks_grpc_host} (gRPC), {urls.tasks_http} (HTTP)
{limits}{events}"""


def walkthrough(urls: StackUrls, events_url: str | None = None,
                firestore_log: Path | None = None, limits: str = "") -> str:
    card = json.dumps(TEST_CARD)
    body = json.dumps(payment_body("@TOKEN@")).replace("@TOKEN@", "'\"$TOKEN\"'")
    field = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"{}\"])'"
    return f"""
{summary(urls, events_url, firestore_log, limits)}
Test card on the checkout page: 5031 4332 1540 6351, 11/30, CVV 123, cardholder APRO
(OTHE: rejected; 3DSC: 3-D Secure challenge), document CPF 12345678909.

Walk-through with curl (copy-paste into a shell):

  # 1. tokenize the test card (Mastercard 5031 4332 1540 6351, 11/2030, CVV 123, APRO)
  TOKEN=$(curl -s -X POST '{urls.simulator}/v1/card_tokens?public_key={MP_PUBLIC_KEY}' \\
    -H 'Content-Type: application/json' \\
    -d '{card}' \\
    | {field.format("id")}); echo "token: $TOKEN"

  # 2. pay for 2 x demo-product with it
  RESP=$(curl -s -X POST '{urls.create_payment}/' \\
    -H 'Content-Type: application/json' -H "Idempotency-Key: $(date +%s%N)" \\
    -d '{body}'); echo "$RESP"
  ORDER=$(echo "$RESP" | {field.format("order_id")}); echo "order: $ORDER"

  # 3. wait until the order is "paid" (simulator webhook -> ipn_webhook -> task -> fulfill)
  for i in $(seq 30); do
    STATUS=$(curl -s {urls.create_payment}/orders/$ORDER | {field.format("status")})
    echo "status: $STATUS"; [ "$STATUS" = paid ] && break; sleep 1
  done

A function that dies is restarted (with a back-off); an emulator or the simulator dying
stops the stack. Ports and pids: the state file (.local-run/stack.json).
Ctrl-C stops everything.
"""


def merchant_events_service(port: int, secret: str) -> ServiceSpec:
    url = f"http://{HOST}:{port}"
    return ServiceSpec(
        name="merchant_events",
        argv=[sys.executable, "-m", "local.merchant_events", "--host", HOST, "--port", str(port),
              "--secret", secret],
        cwd=REPO_ROOT,
        ready_url=url + "/health",
        url=url + "/events",
        ports=(port,),
        stop_wave=1,
    )


# --------------------------------------------------------------------------------------
# HTTP helpers (stdlib only, loopback only)

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 15.0,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status, raw = int(response.status), response.read()
    except urllib.error.HTTPError as err:
        status, raw = int(err.code), err.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", errors="replace")


def _find(doc: Any, *paths: tuple[str, ...]) -> Any:
    for path in paths:
        value = doc
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            return value
    return None


class SmokeFailure(RuntimeError):
    pass


def smoke(urls: StackUrls, timeout: float = 60.0, log: Any = print) -> dict[str, Any]:
    """Tokenize the APRO card, pay 2 x demo-product, wait for the order to be ``paid``.

    Returns the final order document; raises ``SmokeFailure`` otherwise.
    """
    status, token = http_json(
        "POST", f"{urls.simulator}/v1/card_tokens?public_key={MP_PUBLIC_KEY}", TEST_CARD
    )
    token_id = _find(token, ("id",))
    if status not in (200, 201) or not isinstance(token_id, str):
        raise SmokeFailure(f"card token: HTTP {status}: {token}")
    log(f"smoke: card token {token_id}")

    status, created = http_json(
        "POST",
        f"{urls.create_payment}/",
        payment_body(token_id),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    order_id = _find(created, ("order_id",), ("order", "id"), ("order", "order_id"), ("id",))
    if status not in (200, 201, 202) or not isinstance(order_id, str):
        raise SmokeFailure(f"create_payment: HTTP {status}: {created}")
    log(f"smoke: order {order_id} created: HTTP {status} {json.dumps(created)}")

    deadline = time.monotonic() + timeout
    order: Any = None
    last_status = None
    while time.monotonic() < deadline:
        status, order = http_json("GET", f"{urls.create_payment}/orders/{order_id}")
        current = _find(order, ("status",), ("order", "status"))
        if current != last_status:
            log(f"smoke: order {order_id}: HTTP {status} status={current}")
            last_status = current
        if status == 200 and current == "paid":
            return order if isinstance(order, dict) else {"status": current}
        time.sleep(0.25)
    raise SmokeFailure(f"order {order_id} not paid after {timeout:g} s: last answer {order}")


# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.dev", description="Run the local stack (make dev)."
    )
    parser.add_argument(
        "--smoke", action="store_true", help="pay one order end to end, then stop (exit 0: paid)"
    )
    parser.add_argument("--free-ports", action="store_true", help="use free ports instead of the defaults")
    parser.add_argument("--run-dir", type=Path, default=None, help="where service logs go")
    parser.add_argument("--state-file", type=Path, default=None,
                        help="where the ports and pids go (default .local-run/stack.json; "
                             "<run dir>/stack.json with --run-dir)")
    parser.add_argument("--time-scale", type=float, default=None)
    parser.add_argument("--cont-delay", type=float, default=None)
    parser.add_argument("--retry-delays", default=None, help="e.g. 1,5,30")
    parser.add_argument("--smoke-timeout", type=float, default=60.0)
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="service output to log files only (default for --smoke)",
    )
    args = parser.parse_args(argv)

    ports = StackPorts.free() if args.free_ports else StackPorts.from_env()
    defaults = StackOptions()
    options = StackOptions(
        time_scale=defaults.time_scale if args.time_scale is None else args.time_scale,
        cont_delay=defaults.cont_delay if args.cont_delay is None else args.cont_delay,
        retry_delays=(
            defaults.retry_delays
            if args.retry_delays is None
            else tuple(float(x) for x in args.retry_delays.split(",") if x.strip())
        ),
    )
    run_dir = args.run_dir or default_run_dir()
    state_file = args.state_file or (run_dir / "stack.json" if args.run_dir else STATE_FILE)
    console = not (args.quiet or args.smoke)
    say(f"logs: {run_dir}")
    for variable, what in (
        ("FIRESTORE_IMPORT_DIR", "Firestore starts from the export in"),
        ("FIRESTORE_EXPORT_DIR", "Firestore's data is exported on exit to"),
    ):
        if os.environ.get(variable, "").strip():
            say(f"{what} {os.environ[variable].strip()} ({variable})")
    if os.environ.get("FIRESTORE_IMPORT_DIR", "").strip():
        from local.firestore_emulator import ExportNotFound, find_export

        try:
            find_export(os.environ["FIRESTORE_IMPORT_DIR"].strip())
        except ExportNotFound as err:
            print(f"local stack: FIRESTORE_IMPORT_DIR: {err}", file=sys.stderr, flush=True)
            return 2
    extra: list[ServiceSpec] = []
    events_url = None
    if not os.environ.get("MERCHANT_WEBHOOK_URL"):
        raw = os.environ.get("MERCHANT_EVENTS_PORT", "").strip()
        port = free_ports(1)[0] if args.free_ports else int(raw or 8089)
        secret = os.environ.get("MERCHANT_WEBHOOK_SECRET") or MERCHANT_WEBHOOK_SECRET
        receiver = merchant_events_service(port, secret)
        extra.append(receiver)
        events_url = receiver.url
        options = dataclasses.replace(options, function_env={
            **options.function_env, "MERCHANT_WEBHOOK_URL": str(events_url)})

    stack: LocalStack | None = None
    with terminate_on_signals():
        try:
            # A smoke run stops at once; it must not hide a running make dev's state file.
            stack = start_stack(ports, options, run_dir=run_dir, console=console, extra=extra,
                                state_file=None if args.smoke else state_file)
            limits = limits_line(function_env(ports, options))
            seed(options.project, stack.endpoints.firestore_host)
            firestore_log = stack.log_path("firestore")
            if args.smoke:
                say(summary(stack.endpoints, events_url, firestore_log, limits))
                order = smoke(stack.endpoints, timeout=args.smoke_timeout)
                say(f"smoke: OK, order paid: {json.dumps(order)}")
                return 0
            say(walkthrough(stack.endpoints, events_url, firestore_log, limits))
            stack.wait()
            return 0  # stopped from elsewhere
        except StackError as err:
            print(f"\nlocal stack: {err}", file=sys.stderr, flush=True)
            return 1
        except (SmokeFailure, OSError) as err:  # OSError: a service did not answer at all
            print(f"\nsmoke: FAILED: {err}\nlogs: {run_dir}", file=sys.stderr, flush=True)
            if stack is not None:
                _print_tails(stack)
            return 1
        except KeyboardInterrupt:
            print("\nstopping...", file=sys.stderr, flush=True)
            return 130
        except Terminated as term:
            print("\nstopping...", file=sys.stderr, flush=True)
            return 128 + term.signum
        finally:
            if stack is not None:
                stack.stop()
                print("local stack stopped", file=sys.stderr, flush=True)


def _print_tails(stack: LocalStack) -> None:
    for spec in stack.services:
        tail = tail_file(stack.log_path(spec.name), 15)
        print(f"--- {spec.name} ---\n{tail}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
