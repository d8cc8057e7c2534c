"""mpctl — operate a deployment: refunds, cancellations, lookups, reconcile, dead letters.

Reads the same environment as the functions (docs/operations.md, "mpctl"; every setting:
docs/settings.md). ``--local`` fills in the local stack's wiring (the one ``make dev`` starts)
for anything not already set.
Every command prints JSON on success and exits non-zero with a message on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any


class CommandError(Exception):
    """A failure to report to the operator (exit status 1)."""


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str, sort_keys=True))


def parse_duration(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)\s*([smhd])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 30m, 2h, 1d")
    amount, unit = int(match.group(1)), match.group(2)
    return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


def parse_amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not an amount") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError("the amount must be positive")
    return value


# -- wiring ------------------------------------------------------------------------------
def _use_local_stack() -> None:
    """The wiring of the stack ``make dev`` is running, from its ``.local-run/stack.json``."""
    import json
    from dataclasses import fields

    from local.stack import REPO_ROOT, StackOptions, StackPorts, function_env

    path = os.environ.get("LOCAL_STACK_FILE") or str(REPO_ROOT / ".local-run" / "stack.json")
    try:
        with open(path, encoding="utf-8") as fh:
            running = json.loads(fh.read())
        pid = int(running["pid"])
        os.kill(pid, 0)  # still alive?
        known = {f.name for f in fields(StackPorts)}
        ports = StackPorts(**{k: int(v) for k, v in running["ports"].items() if k in known})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CommandError(f"no local stack is running ({path} is missing or stale): start "
                           "one with `make dev`") from exc
    for key, value in function_env(ports, StackOptions()).items():
        if key.endswith(("_HOST", "_URL")):  # where the stack listens: --local means this stack
            os.environ[key] = value
        else:  # other settings (LOG_LEVEL...) may still come from the shell
            os.environ.setdefault(key, value)
    from shared import wiring

    wiring.reset()  # the environment changed: nothing read before it may stay


class Context:
    """Builds the product's objects from the environment, lazily."""

    def __init__(self) -> None:
        from shared.platform.config import settings

        self.settings = settings()

    def db(self) -> Any:
        from shared.wiring import firestore_db

        return firestore_db()

    def gateway(self) -> Any:
        from shared.wiring import mp_gateway

        return mp_gateway()

    def queue(self) -> Any:
        from shared.wiring import task_queue

        return task_queue()

    def fulfilment(self) -> Any:
        from shared.wiring import fulfilment

        return fulfilment()

    def operations(self) -> Any:
        from shared.wiring import operations

        return operations()


def _operation(run: Callable[[Any], Any]) -> Any:
    from shared.usecases.operations import OperationError

    try:
        result = run(Context().operations())
    except OperationError as exc:
        raise CommandError(f"{exc.code}: {exc.message}") from exc
    return {"order_id": result.order_id, "action": result.action, **result.detail}


# -- commands ----------------------------------------------------------------------------
def cmd_refund(args: argparse.Namespace) -> Any:
    return _operation(lambda ops: ops.refund(args.order_id, args.amount, again=args.again))


def cmd_refund_payment(args: argparse.Namespace) -> Any:
    return _operation(lambda ops: ops.refund_payment(args.payment_id))


def cmd_anomalies_list(args: argparse.Namespace) -> Any:
    from shared.adapters.store.anomalies import list_anomalies

    return list_anomalies(Context().db(), limit=args.limit, kind=args.kind)


def cmd_cancel(args: argparse.Namespace) -> Any:
    return _operation(lambda ops: ops.cancel(args.order_id))


def cmd_order_show(args: argparse.Namespace) -> Any:
    from shared.wiring import order_repository

    Context()  # settings first: a config error is reported as such
    order = order_repository(defer_effects=True).get(args.order_id)
    if order is None:
        raise CommandError(f"order_not_found: no order {args.order_id}")
    return order


def cmd_order_clear_fraud_alert(args: argparse.Namespace) -> Any:
    from shared.adapters.store.orders import OrderNotFound
    from shared.usecases.fraud_alerts import resume_fulfilment
    from shared.wiring import fraud_alerts

    ctx = Context()
    now = datetime.now(UTC)
    try:
        result = fraud_alerts().clear(args.order_id, now)
    except OrderNotFound:
        raise CommandError(f"order_not_found: no order {args.order_id}") from None
    except LookupError as exc:
        raise CommandError(f"no_fraud_alert: {exc}") from None
    if result["fulfilment_pending"] and result["payment_id"] and ctx.settings.fulfill_url:
        result["resume_task"] = resume_fulfilment(ctx.settings, ctx.queue(), args.order_id,
                                                  result["payment_id"], now)
    return result


def cmd_payment_show(args: argparse.Namespace) -> Any:
    from dataclasses import asdict

    from shared.adapters.mercadopago.errors import ProviderError, ResourceNotFound

    ctx = Context()
    try:
        snap = ctx.gateway().get_payment(args.payment_id)
    except ResourceNotFound:
        raise CommandError(f"payment_not_found: Mercado Pago does not know {args.payment_id}")\
            from None
    except ProviderError as exc:
        raise CommandError(f"provider_unavailable: {exc}") from exc
    stored = ctx.db().collection("payments").document(args.payment_id).get().to_dict()
    mercado_pago = {k: v for k, v in asdict(snap).items() if k != "instructions"}
    return {"mercado_pago": mercado_pago, "firestore": stored,
            "in_sync": bool(stored) and stored.get("status") == snap.status}


def cmd_reconcile(args: argparse.Namespace) -> Any:
    from shared.wiring import reconciler

    Context()  # settings first: a config error is reported as such
    rec = reconciler()
    runs = 0
    while True:
        runs += 1
        report = rec.run(args.since, new_window=args.new_window and runs == 1)
        if args.since is not None:
            print(f"mpctl: reconcile run {runs}: {report.payments_seen} payments seen, "
                  f"{report.enqueued} enqueued, covered until {report.covered_until}, "
                  f"about {report.payments_remaining} left"
                  + ("" if report.window_done else " (run again to continue)"),
                  file=sys.stderr)
        if not (args.until_done and report.truncated and runs < args.max_runs):
            break
    return {**report.as_dict(), "runs": runs}


def cmd_dead_letters_list(args: argparse.Namespace) -> Any:
    from shared.adapters.store.dead_letters import list_dead_letters

    return list_dead_letters(Context().db(), limit=args.limit, include_replayed=args.all)


def cmd_dead_letters_replay(args: argparse.Namespace) -> Any:
    from shared.adapters.store.dead_letters import list_dead_letters
    from shared.usecases.dead_letters import replay

    ctx = Context()
    ids = args.ids or ([d["id"] for d in list_dead_letters(ctx.db(), limit=args.limit)]
                       if args.all else [])
    if not ids:
        raise CommandError("nothing to replay: name dead letter ids or pass --all")
    replayed = {}
    for letter in ids:
        try:
            replayed[letter] = replay(ctx.db(), ctx.settings, ctx.queue(), letter,
                                      datetime.now(UTC))
        except LookupError:
            raise CommandError(f"dead_letter_not_found: {letter}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
    return {"replayed": replayed}


def cmd_webhook_sign(args: argparse.Namespace) -> Any:
    from shared.adapters.mercadopago import webhooks
    from shared.adapters.mercadopago.topics import to_wire
    from shared.platform.secrets import MissingSecret, SecretError, reader

    ctx = Context()
    wire = to_wire(args.topic)  # the Webhooks type Mercado Pago sends for this topic
    try:
        secret = reader().require(ctx.settings.mp_webhook_secret)
    except MissingSecret:
        raise CommandError("MP_WEBHOOK_SECRET is not configured") from None
    except SecretError as exc:
        raise CommandError(str(exc)) from exc
    url = args.url or ctx.settings.notification_url
    if not url:
        raise CommandError("give --url or set NOTIFICATION_URL")
    request_id, ts = str(uuid.uuid4()), str(int(time.time()))
    v1 = webhooks.sign(secret, args.resource_id.lower(), request_id, ts)
    body = json.dumps({"id": int(time.time() * 1000), "live_mode": False, "type": wire,
                       "action": args.action or f"{args.topic}.updated", "api_version": "v1",
                       "date_created": datetime.now(UTC).isoformat(),
                       "data": {"id": args.resource_id}})
    sep = "&" if "?" in url else "?"
    target = f"{url}{sep}data.id={args.resource_id}&type={wire}"
    curl = " ".join(["curl", "-sS", "-X", "POST", shlex.quote(target),
                     "-H", shlex.quote("Content-Type: application/json"),
                     "-H", shlex.quote(f"x-request-id: {request_id}"),
                     "-H", shlex.quote(f"x-signature: ts={ts},v1={v1}"),
                     "--data", shlex.quote(body)])
    print(curl)
    return None


def cmd_config_check(args: argparse.Namespace) -> Any:
    from shared.platform.config import ConfigError
    from shared.platform.secrets import SecretError, reader

    try:
        ctx = Context()
    except ConfigError as exc:
        raise CommandError(f"config_invalid: {exc}") from exc
    s = ctx.settings
    settings_report = {
        "GOOGLE_CLOUD_PROJECT": bool(s.project), "NOTIFICATION_URL": bool(s.notification_url),
        "FULFILL_URL": bool(s.fulfill_url), "TASKS_SERVICE_ACCOUNT": bool(s.tasks_service_account),
        "CALLER_AUTH": s.caller_auth,
        "FULFILL_AUTH_AUDIENCE": bool(s.fulfill_auth_audience),
        "FULFILL_ALLOWED_SERVICE_ACCOUNT": bool(s.fulfill_allowed_service_account),
        "RECONCILE_AUTH_AUDIENCE": bool(s.reconcile_auth_audience),
        "RECONCILE_ALLOWED_SERVICE_ACCOUNT": bool(s.reconcile_allowed_service_account),
        "MERCHANT_WEBHOOK_URL": bool(s.merchant_webhook_url),
        "CORS_ALLOWED_ORIGINS": len(s.cors_allowed_origins),
        "MP_API_BASE_URL": s.mp_api_base_url, "MP_COUNTRY": s.mp_country or None,
    }
    secrets: dict[str, str] = {}
    problems = []
    for ref, required in ((s.mp_access_token, True), (s.mp_webhook_secret, True),
                          (s.mp_webhook_secret_previous, False),
                          (s.merchant_webhook_secret, bool(s.merchant_webhook_url))):
        try:
            value = reader().get(ref)
            state = f"present ({ref.source})" if value else "missing"
        except SecretError:
            state = f"unreadable ({ref.source})"
        secrets[ref.name] = state
        if required and not state.startswith("present"):
            problems.append(f"{ref.name} {state}")
    for name, present in (("NOTIFICATION_URL", s.notification_url), ("FULFILL_URL", s.fulfill_url)):
        if not present:
            problems.append(f"{name} missing")
    for function in ("fulfill", "reconcile"):  # what would stop that function at start
        try:
            s.caller_policy(function)
        except ConfigError as exc:
            problems.append(str(exc))
    report = {"settings": settings_report, "secrets": secrets, "problems": problems}
    if problems:
        _print(report)
        raise CommandError("configuration incomplete: " + "; ".join(problems))
    return report


# -- parser ------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mpctl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", action="store_true",
                        help="use the local stack's wiring (make dev) for unset variables")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("refund", help="refund an order's payment, fully or partly")
    p.add_argument("order_id")
    p.add_argument("--amount", type=parse_amount, help="partial amount (default: all that remains)")
    p.add_argument("--again", action="store_true",
                   help="refund even if the same refund succeeded in the last 10 minutes")
    p.set_defaults(run=cmd_refund)

    p = sub.add_parser("refund-payment",
                       help="refund an approved orphan payment (see anomalies list) in full")
    p.add_argument("payment_id")
    p.set_defaults(run=cmd_refund_payment)

    anomalies = sub.add_parser("anomalies", help="payments kept for an operator")
    anomalies_sub = anomalies.add_subparsers(dest="sub", required=True)
    p = anomalies_sub.add_parser("list", help="orphan payments, amount mismatches, duplicate "
                                 "payments (newest first)")
    p.add_argument("--kind", help="only this kind (orphan_payment, amount_mismatch, ...)")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=cmd_anomalies_list)

    p = sub.add_parser("cancel", help="cancel a pending order (and its pending payment)")
    p.add_argument("order_id")
    p.set_defaults(run=cmd_cancel)

    order = sub.add_parser("order", help="orders").add_subparsers(dest="sub", required=True)
    p = order.add_parser("show", help="print an order as stored")
    p.add_argument("order_id")
    p.set_defaults(run=cmd_order_show)
    p = order.add_parser("clear-fraud-alert",
                         help="clear a false fraud alert; withheld shop hooks then run")
    p.add_argument("order_id")
    p.set_defaults(run=cmd_order_clear_fraud_alert)

    payment = sub.add_parser("payment", help="payments").add_subparsers(dest="sub", required=True)
    p = payment.add_parser("show", help="a payment at Mercado Pago next to Firestore's copy")
    p.add_argument("payment_id")
    p.set_defaults(run=cmd_payment_show)

    p = sub.add_parser("reconcile", help="run the reconcile sweep now")
    p.add_argument("--since", type=parse_duration,
                   help="cover the window from this far back to now (e.g. 30m, 2h, 1d); "
                        "a later --since continues an open window where it stopped")
    p.add_argument("--new-window", action="store_true",
                   help="start the --since window afresh instead of continuing an open one")
    p.add_argument("--until-done", action="store_true",
                   help="repeat bounded runs until the window (and the pending orders) are covered")
    p.add_argument("--max-runs", type=int, default=1000, help="with --until-done: give up after "
                   "this many runs (default 1000)")
    p.set_defaults(run=cmd_reconcile)

    dead = sub.add_parser("dead-letters", help="fulfil tasks that ran out of retries")
    dead_sub = dead.add_subparsers(dest="sub", required=True)
    p = dead_sub.add_parser("list", help="list dead letters (newest first)")
    p.add_argument("--all", action="store_true", help="include replayed ones")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=cmd_dead_letters_list)
    p = dead_sub.add_parser("replay", help="send dead letters to fulfill again")
    p.add_argument("ids", nargs="*", help="dead letter ids")
    p.add_argument("--all", action="store_true", help="replay every unreplayed one")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(run=cmd_dead_letters_replay)

    webhook = sub.add_parser("webhook", help="webhook helpers")
    webhook_sub = webhook.add_subparsers(dest="sub", required=True)
    p = webhook_sub.add_parser("sign", help="print a signed curl for a test notification")
    p.add_argument("resource_id", help="data.id: a payment id, merchant order id...")
    p.add_argument("--topic", default="payment",
                   help="payment, merchant_order or chargebacks (sent as Mercado Pago's wire type)")
    p.add_argument("--action")
    p.add_argument("--url", help="ipn_webhook URL (default: NOTIFICATION_URL)")
    p.set_defaults(run=cmd_webhook_sign)

    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers(dest="sub", required=True)
    p = config_sub.add_parser("check", help="which settings and secrets are present (no values)")
    p.set_defaults(run=cmd_config_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the product's INFO lines are noise here
    args = build_parser().parse_args(argv)
    from shared.platform import log
    from shared.platform.config import project_configured

    log.use_stream(sys.stderr)
    try:
        if args.local or os.environ.get("MPCTL_LOCAL") == "1":
            _use_local_stack()
        elif not project_configured():
            raise CommandError("no configuration: GOOGLE_CLOUD_PROJECT is not set. Use --local "
                               "for the stack `make dev` runs, or export the settings "
                               "(docs/operations.md, mpctl)")
        result = args.run(args)
    except CommandError as exc:
        print(f"mpctl: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an unexpected failure still exits non-zero with a message
        print(f"mpctl: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if result is not None:
        try:
            _print(result)
        except BrokenPipeError:  # e.g. piped into head
            sys.stderr.close()
    return 0
