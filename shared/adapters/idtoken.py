"""Checking the Google-signed ID tokens that Cloud Tasks and Cloud Scheduler send.

fulfill and reconcile are IAM-protected Cloud Run services. Cloud Run's front end verifies the
caller's ID token itself and forwards it to the container with the signature replaced by
``SIGNATURE_REMOVED_BY_GOOGLE`` (Cloud Run troubleshooting, "signature removed"): the third
segment of the JWT is that literal text. So:

* ``accept_stripped`` (``CALLER_AUTH=cloud_run_iam``): a token carrying the marker is accepted
  after its claims are checked (``aud`` exact, ``iss``, ``exp``/``iat`` with skew, ``email`` the
  one allowed account, ``email_verified``); a token with a real signature is fully verified.
* otherwise (``CALLER_AUTH=verify``): the signature must verify; a marker token is refused.

Claims are checked before the signature, so a bad token is refused without fetching certs and
stays a bad token (401) during a certs outage, which is its own failure (503: Cloud Tasks
retries). Certificates (Google's v1 format ``{kid: PEM}``) are fetched through one pooled
session and cached for their ``Cache-Control: max-age`` (less ``Age``); an unknown key id
refreshes them, at most once a minute.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, Protocol

from shared.domain.records import record

MARKER = "SIGNATURE_REMOVED_BY_GOOGLE"
CLOCK_SKEW_SECONDS = 10
MAX_TOKEN_CHARS = 8192
CERTS_TIMEOUT_SECONDS = 5.0
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class TokenFailure(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"                  # not a JWT, or claims of the wrong type
    SIGNATURE_REMOVED = "signature_removed"  # the marker where a signature is required
    BAD_SIGNATURE = "bad_signature"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_ISSUER = "wrong_issuer"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"          # iat in the future beyond the skew
    WRONG_ACCOUNT = "wrong_account"
    UNVERIFIED_EMAIL = "unverified_email"
    CERTS_UNAVAILABLE = "certs_unavailable"  # an outage, not a bad token


_FORBIDDEN = frozenset({TokenFailure.WRONG_ACCOUNT, TokenFailure.UNVERIFIED_EMAIL})


@record(frozen=True)
class TokenCheck:
    ok: bool
    failure: TokenFailure | None = None
    email: str = ""
    signature: str = ""  # "verified" | "removed_by_google" when ok

    @property
    def status(self) -> int:
        if self.ok:
            return 200
        if self.failure is TokenFailure.CERTS_UNAVAILABLE:
            return 503
        return 403 if self.failure in _FORBIDDEN else 401


class Headers(Protocol):
    """What is read from a request's headers (flask's ``request.headers``, a dict)."""

    def get(self, key: str, /) -> str | None: ...


class CertsUnavailable(Exception):
    """The certs endpoint could not be read (network, status, body)."""


# -- certificates --------------------------------------------------------------------------
_session: Any = None
_session_lock = threading.Lock()


def _http() -> Any:
    global _session
    with _session_lock:
        if _session is None:
            import requests

            _session = requests.Session()
        return _session


def _fetch(url: str) -> tuple[dict[str, str], float]:
    """The certs at ``url`` and how long they may be cached (seconds)."""
    try:
        response = _http().get(url, timeout=CERTS_TIMEOUT_SECONDS)
    except Exception as exc:  # connection refused, DNS, timeout...
        raise CertsUnavailable(f"{type(exc).__name__}") from exc
    if response.status_code != 200:
        raise CertsUnavailable(f"HTTP {response.status_code}")
    try:
        certs = response.json()
    except ValueError as exc:
        raise CertsUnavailable("not JSON") from exc
    if not isinstance(certs, dict) or not certs or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in certs.items()):
        raise CertsUnavailable("not a {kid: PEM} mapping")
    return certs, freshness(response.headers.get("Cache-Control", ""),
                            response.headers.get("Age", ""))


def freshness(cache_control: str, age: str = "") -> float:
    """Seconds a response stays fresh: ``max-age`` less ``Age``; 0 for no-store/no-cache."""
    max_age = 0.0
    for directive in cache_control.lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-store", "no-cache"):
            return 0.0
        if name == "max-age":
            try:
                max_age = float(int(value.strip().strip('"')))
            except ValueError:
                return 0.0
    try:
        already = float(int(age.strip())) if age.strip() else 0.0
    except ValueError:
        already = 0.0
    return max(0.0, min(max_age, 86400.0) - max(already, 0.0))


class CertCache:
    """Certs per URL, kept for their freshness; one fetch at a time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 fetch: Callable[[str], tuple[dict[str, str], float]] | None = None,
                 min_refresh_interval: float = 60.0) -> None:
        self._clock = clock
        self._fetch = fetch or _fetch
        self._min_refresh = min_refresh_interval
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[dict[str, str], float, float]] = {}  # certs, fetched, expires

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, url: str, *, need_kid: str = "") -> dict[str, str]:
        """The certs; refetched when stale, or when ``need_kid`` is missing and the copy is
        older than the minimum refresh interval (a rotated key). Raises ``CertsUnavailable``."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(url)
            if entry is not None:
                certs, fetched, expires = entry
                fresh = now < expires
                if fresh and (not need_kid or need_kid in certs
                              or now - fetched < self._min_refresh):
                    return certs
            certs, ttl = self._fetch(url)
            self._entries[url] = (certs, now, now + ttl)
            return certs


_default_cache = CertCache()


def default_cache() -> CertCache:
    return _default_cache


def reset() -> None:
    """Forget the fetched certificates (``shared.wiring.reset``)."""
    _default_cache.clear()


# -- tokens --------------------------------------------------------------------------------
def authorization(headers: Headers) -> str | None:
    """The header Cloud Run checked: ``X-Serverless-Authorization`` when present (Cloud Run then
    leaves ``Authorization`` untouched), else ``Authorization``."""
    serverless = headers.get("X-Serverless-Authorization")
    return serverless if serverless is not None else headers.get("Authorization")


def bearer(value: str | None) -> str:
    if not value:
        return ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _segment(text: str) -> Any:
    if not _SEGMENT.fullmatch(text):
        raise ValueError("not base64url")
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("not JSON") from exc


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def check_claims(claims: Mapping[str, Any], *, audience: str, allowed_email: str,
                 issuers: tuple[str, ...], now: float,
                 clock_skew: int = CLOCK_SKEW_SECONDS) -> TokenFailure | None:
    """The first claim that fails, or None."""
    iat, exp = _number(claims.get("iat")), _number(claims.get("exp"))
    if iat is None or exp is None:
        return TokenFailure.MALFORMED
    aud = claims.get("aud")
    if not isinstance(aud, str) or not _same(aud, audience):
        return TokenFailure.WRONG_AUDIENCE
    if claims.get("iss") not in issuers:
        return TokenFailure.WRONG_ISSUER
    if now < iat - clock_skew:
        return TokenFailure.NOT_YET_VALID
    if now > exp + clock_skew:
        return TokenFailure.EXPIRED
    email = claims.get("email")
    if not isinstance(email, str) or not _same(email, allowed_email):
        return TokenFailure.WRONG_ACCOUNT
    if claims.get("email_verified") is not True:
        return TokenFailure.UNVERIFIED_EMAIL
    return None


def verify(
    authorization: str | None,
    *,
    audience: str,
    allowed_email: str,
    certs_url: str,
    issuers: tuple[str, ...],
    accept_stripped: bool = False,
    clock_skew: int = CLOCK_SKEW_SECONDS,
    now: float | None = None,
    cache: CertCache | None = None,
) -> TokenCheck:
    """Check an ``Authorization`` value (``Bearer <ID token>``) against the policy."""
    token = bearer(authorization)
    if not token:
        return TokenCheck(False, TokenFailure.MISSING)
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or not parts[2]:
        return TokenCheck(False, TokenFailure.MALFORMED)
    try:
        header, claims = _segment(parts[0]), _segment(parts[1])
    except ValueError:
        return TokenCheck(False, TokenFailure.MALFORMED)
    if not isinstance(header, dict) or not isinstance(claims, dict) or header.get("alg") != "RS256":
        return TokenCheck(False, TokenFailure.MALFORMED)
    stripped = parts[2] == MARKER
    if stripped and not accept_stripped:
        return TokenCheck(False, TokenFailure.SIGNATURE_REMOVED)
    email = claims.get("email") if isinstance(claims.get("email"), str) else ""
    failure = check_claims(claims, audience=audience, allowed_email=allowed_email, issuers=issuers,
                           now=time.time() if now is None else now, clock_skew=clock_skew)
    if failure is not None:
        return TokenCheck(False, failure, str(email))
    if stripped:  # Cloud Run's IAM check verified the signature before removing it
        return TokenCheck(True, email=str(email), signature="removed_by_google")
    kid = header.get("kid") if isinstance(header.get("kid"), str) else ""
    try:
        certs = (cache or _default_cache).get(certs_url, need_kid=str(kid))
    except CertsUnavailable:
        return TokenCheck(False, TokenFailure.CERTS_UNAVAILABLE, str(email))
    from google.auth import jwt

    try:
        jwt.decode(token, certs=certs, audience=audience,  # type: ignore[no-untyped-call]
                   clock_skew_in_seconds=clock_skew)
    except Exception:  # signature, unknown key id, algorithm: google-auth raises several kinds
        return TokenCheck(False, TokenFailure.BAD_SIGNATURE, str(email))
    return TokenCheck(True, email=str(email), signature="verified")
