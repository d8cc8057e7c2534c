"""How fulfill and reconcile check their caller (``CALLER_AUTH``; docs/contracts.md).

``startup_check`` runs when the function's module is imported: a caller check that cannot run
(no audience or account, ``off`` outside the emulators) logs ``caller_auth_misconfigured`` at
CRITICAL and stops the process before it listens, so a revision never serves. ``authenticate``
runs on every request: a refused caller is logged as ``caller_rejected`` with its ``reason``
and answered 401/403; a certificate outage is logged as ``id_token_certs_unavailable`` and
answered 503 (Cloud Tasks retries); a configuration that went bad is 503, never a skipped check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.domain.errors import (
    CallerCheckUnavailable,
    CallerForbidden,
    CallerRejected,
    NotConfigured,
)
from shared.platform import log
from shared.platform.config import CallerPolicy, ConfigError, settings

if TYPE_CHECKING:
    from shared.adapters.idtoken import Headers


def policy(function: str) -> CallerPolicy:
    return settings().caller_policy(function)


def startup_check(function: str) -> None:
    """Refuse to start without a caller check. Other configuration errors are left to the
    request path (503 ``not_configured``), as before."""
    try:
        s = settings()
    except ConfigError:
        return
    try:
        mode = s.caller_policy(function).mode
    except ConfigError as exc:
        log.emit("CRITICAL", "caller_auth_misconfigured", str(exc), function=function)
        raise
    if mode != "off":  # every request checks a token: load the checker now, not on the first
        from shared.adapters import idtoken  # noqa: F401


def authenticate(function: str, headers: Headers, who: str) -> None:
    """Raise a domain error (``shared.domain.errors``) unless the request comes from
    ``function``'s one allowed caller."""
    try:
        p = policy(function)
    except ConfigError as exc:
        log.emit("CRITICAL", "caller_auth_misconfigured", str(exc), function=function)
        raise NotConfigured("the function is misconfigured") from exc
    if p.mode == "off":
        return
    from shared.adapters import idtoken  # loaded at start unless the check is off

    s = settings()
    check = idtoken.verify(idtoken.authorization(headers), audience=p.audience,
                           allowed_email=p.allowed_account, certs_url=s.id_token_certs_url,
                           issuers=s.id_token_issuers, accept_stripped=p.mode == "cloud_run_iam")
    if check.ok:
        log.debug("caller_accepted", f"{function} caller accepted", mode=p.mode,
                  signature=check.signature)
        return
    assert check.failure is not None
    if check.failure is idtoken.TokenFailure.CERTS_UNAVAILABLE:
        log.error("id_token_certs_unavailable", "ID token certificates could not be fetched",
                  certs_url=s.id_token_certs_url, mode=p.mode)
        raise CallerCheckUnavailable("the caller cannot be checked now; retry")
    log.warning("caller_rejected", f"{function} caller rejected", reason=check.failure.value,
                mode=p.mode)
    if check.status == 401:
        raise CallerRejected(f"only {who} may call this function")
    raise CallerForbidden(f"only {who} may call this function")
