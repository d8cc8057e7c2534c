"""One typed settings object, read from the environment once per instance."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from shared.domain.limits import Rate, parse_rate
from shared.platform.secrets import SecretRef, secret_ref

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
CALLER_AUTH_MODES = ("cloud_run_iam", "verify", "off")
# Who may call which function: (function, audience setting, allowed account setting).
_CALLER_SETTINGS = {
    "fulfill": ("FULFILL_AUTH_AUDIENCE", "FULFILL_ALLOWED_SERVICE_ACCOUNT"),
    "reconcile": ("RECONCILE_AUTH_AUDIENCE", "RECONCILE_ALLOWED_SERVICE_ACCOUNT"),
}


class ConfigError(ValueError):
    """A setting is present but unusable (not a number, not a URL...)."""


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


def _pct(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default, minimum=1)
    if value > 90:
        raise ConfigError(f"{name} must be between 1 and 90, got {value}")
    return value


def _decimal(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name, "").strip() or default
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {raw!r}")
    return value


def _list(env: Mapping[str, str], name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None:
        return default
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())


def _str(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, "").strip() or default


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _score(env: Mapping[str, str], name: str, default: str) -> Decimal:
    raw = env.get(name, "").strip() or default
    try:
        value = Decimal(raw)
    except ArithmeticError as exc:
        raise ConfigError(f"{name} must be a number from 0 to 1, got {raw!r}") from exc
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise ConfigError(f"{name} must be a number from 0 to 1, got {raw!r}")
    return value


def _rate(env: Mapping[str, str], name: str, default: str) -> Rate | None:
    try:
        return parse_rate(name, env.get(name, ""), default)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


@dataclass(frozen=True)
class CallerPolicy:
    """How one function checks its caller (``CALLER_AUTH`` and that function's two settings)."""

    function: str
    mode: str  # one of CALLER_AUTH_MODES
    audience: str
    allowed_account: str


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = _str(env, name, default)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _descriptor(env: Mapping[str, str]) -> str:
    """What the buyer's card statement shows; Mercado Pago takes up to 22 characters."""
    value = _str(env, "STATEMENT_DESCRIPTOR")
    if len(value) > 22 or not value.isprintable():
        raise ConfigError("STATEMENT_DESCRIPTOR must be at most 22 printable characters")
    return value


@dataclass(frozen=True, eq=False)  # nothing compares settings; skipping eq/hash is faster
class Settings:
    """Everything the functions read from their environment.

    Secrets are held as references (where to read them), never as values: the value is read
    when needed through :mod:`shared.platform.secrets`, so a rotation reaches a warm instance.
    """

    project: str
    firestore_database: str = "(default)"
    mp_api_base_url: str = "https://api.mercadopago.com"
    mp_timeout_seconds: Decimal = Decimal("8")
    notification_url: str = ""
    cors_allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 65536
    signature_tolerance_seconds: int = 600
    tasks_location: str = "us-central1"
    fulfill_queue: str = "fulfill"
    fulfill_url: str = ""
    merchant_events_queue: str = "merchant-events"
    tasks_service_account: str = ""
    cloud_tasks_emulator_host: str = ""
    firestore_emulator_host: str = ""
    caller_auth: str = "verify"
    fulfill_auth_audience: str = ""
    fulfill_allowed_service_account: str = ""
    id_token_certs_url: str = GOOGLE_CERTS_URL
    id_token_issuers: tuple[str, ...] = GOOGLE_ISSUERS
    fulfill_max_attempts: int = 10
    unknown_payment_max_attempts: int = 3
    merchant_webhook_url: str = ""
    secret_cache_ttl_seconds: int = 60
    secret_manager_emulator_host: str = ""
    idempotency_ttl_seconds: int = 86400
    processed_ttl_days: int = 30
    log_level: str = "INFO"
    mp_country: str = ""
    card_three_d_secure_mode: str = "optional"
    pix_expiry_minutes: int = 30
    ticket_expiry_hours: int = 72
    checkout_pro_expiry_minutes: int = 60
    checkout_success_url: str = ""
    checkout_failure_url: str = ""
    checkout_pending_url: str = ""
    statement_descriptor: str = ""
    binary_mode: bool = False
    client_ip_trusted_hops: int = 1
    reconcile_auth_audience: str = ""
    reconcile_allowed_service_account: str = ""
    reconcile_window_minutes: int = 30
    reconcile_pending_after_minutes: int = 15
    reconcile_max_items: int = 0
    reconcile_time_budget_seconds: int = 240
    reconcile_pending_share_percent: int = 25
    max_attempts_per_order: int = 5
    rate_limit_card: Rate | None = field(default_factory=lambda: Rate(5, 3600))
    rate_limit_payer: Rate | None = field(default_factory=lambda: Rate(10, 3600))
    rate_limit_ip: Rate | None = field(default_factory=lambda: Rate(100, 600))
    rate_limit_orders_ip: Rate | None = field(default_factory=lambda: Rate(200, 600))
    order_ttl_hours: int = 24
    recaptcha_site_key: str = ""
    recaptcha_min_score: Decimal = Decimal("0.5")
    recaptcha_fail_open: bool = False
    recaptcha_api_host: str = ""
    mp_access_token: SecretRef = field(default_factory=lambda: SecretRef("MP_ACCESS_TOKEN"))
    mp_webhook_secret: SecretRef = field(default_factory=lambda: SecretRef("MP_WEBHOOK_SECRET"))
    mp_webhook_secret_previous: SecretRef = field(
        default_factory=lambda: SecretRef("MP_WEBHOOK_SECRET_PREVIOUS")
    )
    merchant_webhook_secret: SecretRef = field(
        default_factory=lambda: SecretRef("MERCHANT_WEBHOOK_SECRET")
    )
    rate_limit_key: SecretRef = field(default_factory=lambda: SecretRef("RATE_LIMIT_KEY"))

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
        project = _str(env, "GOOGLE_CLOUD_PROJECT") or _str(env, "GCP_PROJECT")
        if not project:
            raise ConfigError("GOOGLE_CLOUD_PROJECT is not set")
        return cls(
            project=project,
            firestore_database=_str(env, "FIRESTORE_DATABASE", "(default)"),
            mp_api_base_url=_str(env, "MP_API_BASE_URL", "https://api.mercadopago.com").rstrip("/"),
            mp_timeout_seconds=_decimal(env, "MP_TIMEOUT_SECONDS", "8"),
            notification_url=_str(env, "NOTIFICATION_URL"),
            cors_allowed_origins=_list(env, "CORS_ALLOWED_ORIGINS"),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 65536, minimum=1024),
            signature_tolerance_seconds=_int(env, "SIGNATURE_TOLERANCE_SECONDS", 600),
            tasks_location=_str(env, "TASKS_LOCATION", "us-central1"),
            fulfill_queue=_str(env, "FULFILL_QUEUE", "fulfill"),
            fulfill_url=_str(env, "FULFILL_URL"),
            merchant_events_queue=_str(env, "MERCHANT_EVENTS_QUEUE", "merchant-events"),
            tasks_service_account=_str(env, "TASKS_SERVICE_ACCOUNT"),
            cloud_tasks_emulator_host=_str(env, "CLOUD_TASKS_EMULATOR_HOST"),
            firestore_emulator_host=_str(env, "FIRESTORE_EMULATOR_HOST"),
            caller_auth=_choice(env, "CALLER_AUTH", "verify", ("cloud_run_iam", "verify", "off")),
            fulfill_auth_audience=_str(env, "FULFILL_AUTH_AUDIENCE"),
            fulfill_allowed_service_account=_str(env, "FULFILL_ALLOWED_SERVICE_ACCOUNT"),
            id_token_certs_url=_str(env, "ID_TOKEN_CERTS_URL", GOOGLE_CERTS_URL),
            id_token_issuers=_list(env, "ID_TOKEN_ISSUERS", GOOGLE_ISSUERS),
            fulfill_max_attempts=_int(env, "FULFILL_MAX_ATTEMPTS", 10, minimum=1),
            unknown_payment_max_attempts=_int(env, "UNKNOWN_PAYMENT_MAX_ATTEMPTS", 3, minimum=1),
            merchant_webhook_url=_str(env, "MERCHANT_WEBHOOK_URL"),
            secret_cache_ttl_seconds=_int(env, "SECRET_CACHE_TTL_SECONDS", 60),
            secret_manager_emulator_host=_str(env, "SECRET_MANAGER_EMULATOR_HOST"),
            idempotency_ttl_seconds=_int(env, "IDEMPOTENCY_TTL_SECONDS", 86400, minimum=60),
            processed_ttl_days=_int(env, "PROCESSED_TTL_DAYS", 30, minimum=1),
            log_level=_str(env, "LOG_LEVEL", "INFO").upper(),
            mp_country=_str(env, "MP_COUNTRY").upper(),
            card_three_d_secure_mode=_choice(env, "CARD_THREE_D_SECURE_MODE", "optional",
                                             ("not_supported", "optional", "mandatory")),
            pix_expiry_minutes=_int(env, "PIX_EXPIRY_MINUTES", 30, minimum=1),
            ticket_expiry_hours=_int(env, "TICKET_EXPIRY_HOURS", 72, minimum=1),
            checkout_pro_expiry_minutes=_int(env, "CHECKOUT_PRO_EXPIRY_MINUTES", 60, minimum=5),
            checkout_success_url=_str(env, "CHECKOUT_SUCCESS_URL"),
            checkout_failure_url=_str(env, "CHECKOUT_FAILURE_URL"),
            checkout_pending_url=_str(env, "CHECKOUT_PENDING_URL"),
            statement_descriptor=_descriptor(env),
            binary_mode=_bool(env, "BINARY_MODE", False),
            client_ip_trusted_hops=_int(env, "CLIENT_IP_TRUSTED_HOPS", 1),
            reconcile_auth_audience=_str(env, "RECONCILE_AUTH_AUDIENCE"),
            reconcile_allowed_service_account=_str(env, "RECONCILE_ALLOWED_SERVICE_ACCOUNT"),
            reconcile_window_minutes=_int(env, "RECONCILE_WINDOW_MINUTES", 30, minimum=1),
            reconcile_pending_after_minutes=_int(env, "RECONCILE_PENDING_AFTER_MINUTES", 15),
            reconcile_max_items=_int(env, "RECONCILE_MAX_ITEMS", 0),
            reconcile_time_budget_seconds=_int(env, "RECONCILE_TIME_BUDGET_SECONDS", 240,
                                               minimum=1),
            reconcile_pending_share_percent=_pct(env, "RECONCILE_PENDING_SHARE_PERCENT", 25),
            max_attempts_per_order=_int(env, "MAX_ATTEMPTS_PER_ORDER", 5),
            rate_limit_card=_rate(env, "RATE_LIMIT_CARD", "5/3600"),
            rate_limit_payer=_rate(env, "RATE_LIMIT_PAYER", "10/3600"),
            rate_limit_ip=_rate(env, "RATE_LIMIT_IP", "100/600"),
            rate_limit_orders_ip=_rate(env, "RATE_LIMIT_ORDERS_IP", "200/600"),
            order_ttl_hours=_int(env, "ORDER_TTL_HOURS", 24, minimum=1),
            recaptcha_site_key=_str(env, "RECAPTCHA_SITE_KEY"),
            recaptcha_min_score=_score(env, "RECAPTCHA_MIN_SCORE", "0.5"),
            recaptcha_fail_open=_choice(env, "RECAPTCHA_FAIL_OPEN", "false",
                                        ("true", "false")) == "true",
            recaptcha_api_host=_str(env, "RECAPTCHA_API_HOST"),
            mp_access_token=secret_ref(env, "MP_ACCESS_TOKEN"),
            mp_webhook_secret=secret_ref(env, "MP_WEBHOOK_SECRET"),
            mp_webhook_secret_previous=secret_ref(env, "MP_WEBHOOK_SECRET_PREVIOUS"),
            merchant_webhook_secret=secret_ref(env, "MERCHANT_WEBHOOK_SECRET"),
            rate_limit_key=secret_ref(env, "RATE_LIMIT_KEY"),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The instance's settings, read once."""
    return Settings.from_env()
