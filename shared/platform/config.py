"""One typed settings object, read from the environment once per instance.

This module is the only reader of the product's environment. Each setting is declared once,
as a field of :class:`Settings` with its variable name, default, parser, meaning and readers
(:func:`_setting`); :meth:`Settings.from_env` and the generated table in docs/settings.md
(``tools/settings_table.py``) both come from those declarations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, field, fields
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from shared.domain.limits import Rate, format_rate, parse_rate
from shared.domain.records import record
from shared.platform.secrets import SecretRef, secret_ref

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CALLER_AUTH_MODES = ("cloud_run_iam", "verify", "off")
THREE_D_SECURE_MODES = ("not_supported", "optional", "mandatory")
# Who may call which function: (function, audience setting, allowed account setting).
_CALLER_SETTINGS = {
    "fulfill": ("FULFILL_AUTH_AUDIENCE", "FULFILL_ALLOWED_SERVICE_ACCOUNT"),
    "reconcile": ("RECONCILE_AUTH_AUDIENCE", "RECONCILE_ALLOWED_SERVICE_ACCOUNT"),
}
# Who reads a setting (the table's last column).
CP, IPN, FF, RC, CLI = "create_payment", "ipn_webhook", "fulfill", "reconcile", "mpctl"
ALL = (CP, IPN, FF, RC, CLI)

class ConfigError(ValueError):
    """A setting is present but unusable (not a number, not a URL...)."""


T = TypeVar("T")
Parser = Callable[[Mapping[str, str], str, Any], Any]


def _str(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, "").strip() or default


def _upper(env: Mapping[str, str], name: str, default: str) -> str:
    return _str(env, name, default).upper()


def _base_url(env: Mapping[str, str], name: str, default: str) -> str:
    return _str(env, name, default).rstrip("/")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return value


def _at_least(minimum: int) -> Parser:
    def parse(env: Mapping[str, str], name: str, default: int) -> int:
        return _int(env, name, default, minimum)

    return parse


def _pct(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default, minimum=1)
    if value > 90:
        raise ConfigError(f"{name} must be between 1 and 90, got {value}")
    return value


def _decimal(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {raw!r}")
    return value


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _strict_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """``true`` or ``false`` only (a fail-open switch takes no synonyms)."""
    return bool(_choice(("true", "false"))(env, name, "true" if default else "false") == "true")


def _score(env: Mapping[str, str], name: str, default: Decimal) -> Decimal:
    raw = env.get(name, "").strip() or str(default)
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:
        raise ConfigError(f"{name} must be a number from 0 to 1, got {raw!r}") from exc
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise ConfigError(f"{name} must be a number from 0 to 1, got {raw!r}")
    return value


def _rate(env: Mapping[str, str], name: str, default: Rate | None) -> Rate | None:
    try:
        return parse_rate(name, env.get(name, ""), format_rate(default))
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def _choice(allowed: tuple[str, ...]) -> Parser:
    def parse(env: Mapping[str, str], name: str, default: str) -> str:
        value = _str(env, name, default)
        if value not in allowed:
            raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
        return value

    return parse


def _descriptor(env: Mapping[str, str], name: str, default: str) -> str:
    """What the buyer's card statement shows; Mercado Pago takes up to 22 characters."""
    value = _str(env, name, default)
    if len(value) > 22 or not value.isprintable():
        raise ConfigError(f"{name} must be at most 22 printable characters")
    return value


def _project(env: Mapping[str, str], name: str, default: str) -> str:
    project = _str(env, name) or _str(env, "GCP_PROJECT") or default
    if not project:
        raise ConfigError(f"{name} is not set")
    return project


def _secret(env: Mapping[str, str], name: str, default: SecretRef) -> SecretRef:
    return secret_ref(env, name)


@record(frozen=True)
class Setting:
    """One environment variable: how it is read and what the table says about it."""

    env: str
    parse: Parser
    doc: str
    readers: tuple[str, ...]
    shown_default: str  # the table's default column ("unset", "required", `value`...)
    secret: bool = False


def _setting(env: str, default: T, parse: Parser, doc: str, readers: tuple[str, ...] = ALL,
             *, shown: str | None = None) -> T:
    """A :class:`Settings` field read from ``env``: its only default is ``default``."""
    info = Setting(env, parse, doc, readers, _show(default) if shown is None else shown,
                   secret=parse is _secret)
    made: T = field(default=default, metadata={"setting": info})
    return made


def _required(env: str, parse: Parser, doc: str, readers: tuple[str, ...] = ALL) -> Any:
    """A :class:`Settings` field without a default."""
    return field(metadata={"setting": Setting(env, parse, doc, readers, "required")})


def _show(default: object) -> str:
    if isinstance(default, SecretRef) or default == "" or default == ():
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, tuple):
        return f"`{','.join(default)}`"
    if isinstance(default, Rate) or default is None:
        return f"`{format_rate(default)}`"
    return f"`{default}`"


@record(frozen=True)
class CallerPolicy:
    """How one function checks its caller (``CALLER_AUTH`` and that function's two settings)."""

    function: str
    mode: str  # one of CALLER_AUTH_MODES
    audience: str
    allowed_account: str


@record(frozen=True, eq=False)  # nothing compares settings; skipping eq/hash is faster
class Settings:
    """Everything the functions read from their environment.

    Secrets are held as references (where to read them), never as values: the value is read
    when needed through :mod:`shared.platform.secrets`, so a rotation reaches a warm instance.
    """

    project: str = _required(
        "GOOGLE_CLOUD_PROJECT", _project, "project id (`GCP_PROJECT` is read when unset)")
    firestore_database: str = _setting(
        "FIRESTORE_DATABASE", "(default)", _str, "Firestore database id", (CP, FF, RC, CLI))
    mp_api_base_url: str = _setting(
        "MP_API_BASE_URL", "https://api.mercadopago.com", _base_url, "Mercado Pago API base",
        (CP, FF, RC, CLI))
    mp_timeout_seconds: Decimal = _setting(
        "MP_TIMEOUT_SECONDS", Decimal("8"), _decimal, "per-call timeout to Mercado Pago",
        (CP, FF, RC, CLI))
    notification_url: str = _setting(
        "NOTIFICATION_URL", "", _str,
        "public URL of ipn_webhook (create_payment adds `source_news=webhooks`)", (CP, CLI),
        shown="required by create_payment")
    cors_allowed_origins: tuple[str, ...] = _setting(
        "CORS_ALLOWED_ORIGINS", (), _list, "comma-separated origins", (CP,),
        shown="empty (no CORS)")
    max_body_bytes: int = _setting(
        "MAX_BODY_BYTES", 65536, _at_least(1024), "request body limit (at least 1024)",
        (CP, IPN))
    signature_tolerance_seconds: int = _setting(
        "SIGNATURE_TOLERANCE_SECONDS", 600, _int, "x-signature freshness window, `0` disables",
        (IPN,))
    tasks_location: str = _setting(
        "TASKS_LOCATION", "us-central1", _str, "Cloud Tasks location", (IPN, FF, RC, CLI))
    fulfill_queue: str = _setting(
        "FULFILL_QUEUE", "fulfill", _str, "queue id for fulfil tasks", (IPN, FF, RC, CLI))
    fulfill_url: str = _setting(
        "FULFILL_URL", "", _str,
        "fulfill's URL (task target; the token audience when `FULFILL_AUTH_AUDIENCE` is unset). "
        "Deployed: `https://fulfill-<project number>.<region>.run.app`, the same value as every "
        "`FULFILL_AUTH_AUDIENCE`", (IPN, FF, RC, CLI), shown="required by ipn_webhook")
    merchant_events_queue: str = _setting(
        "MERCHANT_EVENTS_QUEUE", "merchant-events", _str, "queue id for merchant events",
        (FF, RC, CLI))
    tasks_service_account: str = _setting(
        "TASKS_SERVICE_ACCOUNT", "", _str,
        "service account e-mail Cloud Tasks signs OIDC tokens as", (IPN, FF, RC, CLI),
        shown="required by ipn_webhook / fulfill when enqueueing")
    cloud_tasks_emulator_host: str = _setting(
        "CLOUD_TASKS_EMULATOR_HOST", "", _str,
        "`host:port` of a local Cloud Tasks gRPC server (insecure channel)", (IPN, FF, RC, CLI))
    firestore_emulator_host: str = _setting(
        "FIRESTORE_EMULATOR_HOST", "", _str,
        "local only (with `CLOUD_TASKS_EMULATOR_HOST`, the only place `CALLER_AUTH=off` is "
        "allowed); the Firestore client reads it too", (FF, RC))
    caller_auth: str = _setting(
        "CALLER_AUTH", "verify", _choice(CALLER_AUTH_MODES),
        "how fulfill and reconcile check their caller: `cloud_run_iam` (deployed: Cloud Run's "
        "IAM check verified the token and removed its signature; claims checked here, a real "
        "signature still verified), `verify` (signature verified here; a token whose signature "
        "Google removed is refused), `off` (no check; refused at start unless "
        "`FIRESTORE_EMULATOR_HOST` and `CLOUD_TASKS_EMULATOR_HOST` are both set)", (FF, RC, CLI))
    fulfill_auth_audience: str = _setting(
        "FULFILL_AUTH_AUDIENCE", "", _str,
        "the exact `aud` of fulfill's ID token (fulfill's URL, as in the tasks' `oidc_token`); "
        "required by fulfill unless `CALLER_AUTH=off`: missing, fulfill does not start",
        (IPN, FF, RC, CLI))
    fulfill_allowed_service_account: str = _setting(
        "FULFILL_ALLOWED_SERVICE_ACCOUNT", "", _str,
        "the one `email` fulfill accepts (the tasks account); required like the audience",
        (FF, CLI))
    id_token_certs_url: str = _setting(
        "ID_TOKEN_CERTS_URL", GOOGLE_CERTS_URL, _str,
        "where ID token signing certs come from (Google's v1 format `{kid: PEM}`), cached for "
        "their `Cache-Control: max-age`", (FF, RC))
    id_token_issuers: tuple[str, ...] = _setting(
        "ID_TOKEN_ISSUERS", GOOGLE_ISSUERS, _list, "comma-separated accepted `iss`", (FF, RC))
    fulfill_max_attempts: int = _setting(
        "FULFILL_MAX_ATTEMPTS", 10, _at_least(1),
        "the fulfil queue's `max_attempts` (last attempt → dead letter)", (FF,))
    unknown_payment_max_attempts: int = _setting(
        "UNKNOWN_PAYMENT_MAX_ATTEMPTS", 3, _at_least(1),
        "attempts before an unknown payment becomes a dead letter", (FF, RC, CLI))
    merchant_webhook_url: str = _setting(
        "MERCHANT_WEBHOOK_URL", "", _str, "shop backend receiving signed `order.*` events",
        (FF, RC, CLI), shown="unset (no events)")
    order_paid_hooks: str = _setting(
        "ORDER_PAID_HOOKS", "", _str,
        "`module:function[,...]` run once per fulfilled order (`shared/adapters/hooks.py`)",
        (FF, RC, CLI))
    secret_cache_ttl_seconds: int = _setting(
        "SECRET_CACHE_TTL_SECONDS", 60, _int, "TTL of file / Secret Manager secret reads")
    secret_manager_emulator_host: str = _setting(
        "SECRET_MANAGER_EMULATOR_HOST", "", _str,
        "`host:port` of a local Secret Manager gRPC server")
    idempotency_ttl_seconds: int = _setting(
        "IDEMPOTENCY_TTL_SECONDS", 86400, _at_least(60),
        "how long a request's `Idempotency-Key` is remembered", (CP,))
    processed_ttl_days: int = _setting(
        "PROCESSED_TTL_DAYS", 30, _at_least(1), "how long processed notification ids are kept",
        (FF, RC, CLI))
    log_level: str = _setting(
        "LOG_LEVEL", "INFO", _upper,
        "lowest severity written: `DEBUG`, `INFO`, `NOTICE`, `WARNING`, `ERROR`, `CRITICAL`, "
        "`ALERT` (mpctl: `WARNING` unless set)")
    revision: str = _setting(
        "K_REVISION", "local", _str, "set by Cloud Run: the revision `GET /health` answers",
        (CP, IPN))
    mp_country: str = _setting(
        "MP_COUNTRY", "", _upper,
        "pins the shop to one country's currency (`BR`, `MX`, `AR`...)", (CP, CLI),
        shown="unset (any)")
    card_three_d_secure_mode: str = _setting(
        "CARD_THREE_D_SECURE_MODE", "optional", _choice(THREE_D_SECURE_MODES),
        "`not_supported`, `optional`, `mandatory`", (CP,))
    pix_expiry_minutes: int = _setting(
        "PIX_EXPIRY_MINUTES", 30, _at_least(1), "PIX `date_of_expiration`", (CP,))
    ticket_expiry_hours: int = _setting(
        "TICKET_EXPIRY_HOURS", 72, _at_least(1),
        "tickets and transfers `date_of_expiration`", (CP,))
    checkout_pro_expiry_minutes: int = _setting(
        "CHECKOUT_PRO_EXPIRY_MINUTES", 60, _at_least(5), "preference expiry (at least 5)",
        (CP, RC, CLI))
    checkout_success_url: str = _setting(
        "CHECKOUT_SUCCESS_URL", "", _str,
        "Checkout Pro `back_urls.success` (`auto_return` when set)", (CP,))
    checkout_failure_url: str = _setting(
        "CHECKOUT_FAILURE_URL", "", _str, "Checkout Pro `back_urls.failure`", (CP,))
    checkout_pending_url: str = _setting(
        "CHECKOUT_PENDING_URL", "", _str, "Checkout Pro `back_urls.pending`", (CP,))
    statement_descriptor: str = _setting(
        "STATEMENT_DESCRIPTOR", "", _descriptor,
        "what the buyer's card statement shows (`statement_descriptor`, at most 22 characters)",
        (CP,), shown="unset (Mercado Pago's default)")
    binary_mode: bool = _setting(
        "BINARY_MODE", False, _bool,
        "`true`: Mercado Pago approves or rejects at once, never `in_process` (`binary_mode`)",
        (CP,))
    client_ip_trusted_hops: int = _setting(
        "CLIENT_IP_TRUSTED_HOPS", 1, _int,
        "`X-Forwarded-For` entries appended by our own infrastructure; the buyer's IP "
        "(`additional_info.ip_address`) is the entry that many from the right. `1`: Cloud Run "
        "direct (its front end appends the connecting address; anything left of it is "
        "client-written and forgeable); `2`: behind an external Application Load Balancer; `0`: "
        "ignore the header. Falls back to the peer address. The attempt limits count per this "
        "address too", (CP,))
    reconcile_auth_audience: str = _setting(
        "RECONCILE_AUTH_AUDIENCE", "", _str,
        "the exact `aud` of reconcile's ID token (the scheduler job's audience); required by "
        "reconcile unless `CALLER_AUTH=off`: missing, reconcile does not start", (RC, CLI))
    reconcile_allowed_service_account: str = _setting(
        "RECONCILE_ALLOWED_SERVICE_ACCOUNT", "", _str,
        "the one `email` reconcile accepts (the scheduler job's account); required like the "
        "audience", (RC, CLI))
    reconcile_window_minutes: int = _setting(
        "RECONCILE_WINDOW_MINUTES", 30, _at_least(1), "look-back of the payments sweep",
        (RC, CLI))
    reconcile_pending_after_minutes: int = _setting(
        "RECONCILE_PENDING_AFTER_MINUTES", 15, _int,
        "age from which a pending order is checked", (RC, CLI))
    reconcile_max_items: int = _setting(
        "RECONCILE_MAX_ITEMS", 0, _int,
        "optional cap on payments looked at per run on top of the time budget; `0` = none",
        (RC, CLI))
    reconcile_time_budget_seconds: int = _setting(
        "RECONCILE_TIME_BUDGET_SECONDS", 240, _at_least(1),
        "wall time one reconcile run may take (keep well under its request timeout, 300 s "
        "deployed); the cursors make the next run continue", (RC, CLI))
    reconcile_pending_share_percent: int = _setting(
        "RECONCILE_PENDING_SHARE_PERCENT", 25, _pct,
        "share of that budget kept for the pending-order pass (1..90)", (RC, CLI))
    max_attempts_per_order: int = _setting(
        "MAX_ATTEMPTS_PER_ORDER", 5, _int,
        "card attempts one order allows, the one that created it included (`0` = off)", (CP,))
    rate_limit_card: Rate | None = _setting(
        "RATE_LIMIT_CARD", Rate(5, 3600), _rate,
        "card attempts per card (first six + last four + expiry), `count/seconds` (`0` = off; "
        "off also skips the card token read)", (CP,))
    rate_limit_payer: Rate | None = _setting(
        "RATE_LIMIT_PAYER", Rate(10, 3600), _rate,
        "payment attempts per payer e-mail, `count/seconds` (`0` = off)", (CP,))
    rate_limit_ip: Rate | None = _setting(
        "RATE_LIMIT_IP", Rate(100, 600), _rate,
        "payment attempts per client IP, `count/seconds` (`0` = off)", (CP,))
    rate_limit_orders_ip: Rate | None = _setting(
        "RATE_LIMIT_ORDERS_IP", Rate(200, 600), _rate,
        "new orders per client IP, `count/seconds` (`0` = off)", (CP,))
    order_ttl_hours: int = _setting(
        "ORDER_TTL_HOURS", 24, _at_least(1),
        "an unpaid card (or other direct) order whose attempts were all refused, or never made, "
        "expires this long after its last change (reconcile cancels it); Checkout Pro orders "
        "expire with their preference (`CHECKOUT_PRO_EXPIRY_MINUTES`)", (RC, CLI))
    recaptcha_site_key: str = _setting(
        "RECAPTCHA_SITE_KEY", "", _str,
        "the reCAPTCHA Enterprise key of the optional bot check (token in `X-Recaptcha-Token`, "
        "action `checkout`)", (CP,), shown="unset (off)")
    recaptcha_min_score: Decimal = _setting(
        "RECAPTCHA_MIN_SCORE", Decimal("0.5"), _score, "lowest score accepted, 0 to 1", (CP,))
    recaptcha_fail_open: bool = _setting(
        "RECAPTCHA_FAIL_OPEN", False, _strict_bool,
        "`true`: attempts go on while the assessment API is down (else 503 "
        "`bot_check_unavailable`); only `true` or `false`", (CP,))
    recaptcha_api_host: str = _setting(
        "RECAPTCHA_API_HOST", "", _str,
        "`host:port` of a local assessment server (insecure gRPC; `local/recaptcha_fake.py`)",
        (CP,))
    mp_access_token: SecretRef = _setting(
        "MP_ACCESS_TOKEN", SecretRef("MP_ACCESS_TOKEN"), _secret,
        "secret: the Mercado Pago access token", (CP, FF, RC, CLI))
    mp_webhook_secret: SecretRef = _setting(
        "MP_WEBHOOK_SECRET", SecretRef("MP_WEBHOOK_SECRET"), _secret,
        "secret: the key of Mercado Pago's `x-signature`", (IPN, CLI))
    mp_webhook_secret_previous: SecretRef = _setting(
        "MP_WEBHOOK_SECRET_PREVIOUS", SecretRef("MP_WEBHOOK_SECRET_PREVIOUS"), _secret,
        "secret, optional: the previous key, still accepted during a rotation", (IPN, CLI))
    merchant_webhook_secret: SecretRef = _setting(
        "MERCHANT_WEBHOOK_SECRET", SecretRef("MERCHANT_WEBHOOK_SECRET"), _secret,
        "secret: the key the shop's `order.*` events are signed with (required with "
        "`MERCHANT_WEBHOOK_URL`)", (FF, CLI))
    rate_limit_key: SecretRef = _setting(
        "RATE_LIMIT_KEY", SecretRef("RATE_LIMIT_KEY"), _secret,
        "secret: the HMAC key of the attempt limits' counters; required by create_payment while "
        "any limit other than the per-order cap is on, else it answers 503 `not_configured`",
        (CP,))

    def caller_policy(self, function: str) -> CallerPolicy:
        """How ``function`` (fulfill or reconcile) checks its caller; ``ConfigError`` when the
        check cannot run. There is no silently skipped check: ``off`` exists for the local
        emulators only, and every other mode needs the audience and the allowed account."""
        audience_name, account_name = _CALLER_SETTINGS[function]
        audience, account = ((self.fulfill_auth_audience, self.fulfill_allowed_service_account)
                             if function == "fulfill" else
                             (self.reconcile_auth_audience, self.reconcile_allowed_service_account))
        if self.caller_auth == "off":
            if not (self.firestore_emulator_host and self.cloud_tasks_emulator_host):
                raise ConfigError(
                    "CALLER_AUTH=off is allowed only with the local emulators "
                    "(FIRESTORE_EMULATOR_HOST and CLOUD_TASKS_EMULATOR_HOST set); "
                    f"{function} refuses to run without a caller check")
        else:
            missing = [name for name, value in ((audience_name, audience), (account_name, account))
                       if not value]
            if missing:
                raise ConfigError(f"CALLER_AUTH={self.caller_auth} needs {' and '.join(missing)}: "
                                  f"{function} refuses to run without a caller check")
        return CallerPolicy(function, self.caller_auth, audience, account)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(**{f.name: _read(f, env) for f in fields(cls)})


def _read(f: Field[Any], env: Mapping[str, str]) -> Any:
    info: Setting = f.metadata["setting"]
    return info.parse(env, info.env, "" if f.default is MISSING else f.default)


def _read_one(name: str) -> Any:
    """One setting from the environment, whatever the others say."""
    return _read(next(f for f in fields(Settings) if f.name == name), os.environ)


def described() -> tuple[tuple[str, Setting], ...]:
    """Every setting in declaration order: (field name, how it is read)."""
    return tuple((f.name, f.metadata["setting"]) for f in fields(Settings))


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The instance's settings, read once (``shared.wiring.reset`` clears it)."""
    return Settings.from_env()


def project_configured() -> bool:
    """Whether ``GOOGLE_CLOUD_PROJECT`` (or ``GCP_PROJECT``) is set, the others unread."""
    try:
        _read_one("project")
    except ConfigError:
        return False
    return True


def log_level() -> str:
    """``LOG_LEVEL``, even when another setting is unusable: logs are still written."""
    try:
        return settings().log_level
    except ConfigError:
        return str(_read_one("log_level"))


def revision() -> str:
    """Cloud Run's ``K_REVISION`` for ``/health``, whatever the other settings say."""
    try:
        return settings().revision
    except ConfigError:
        return str(_read_one("revision"))
