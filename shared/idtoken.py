"""Verifying the Google-signed ID tokens that Cloud Tasks and Cloud Scheduler send.

The production path (``google.oauth2.id_token.verify_token``) runs locally too: only the certs
URL differs (the local Cloud Tasks emulator serves its own). Certs are fetched through one
pooled, cached session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class TokenFailure(StrEnum):
    MISSING = "missing"
    INVALID = "invalid"          # signature, expiry, audience, issuer
    WRONG_ACCOUNT = "wrong_account"
    UNVERIFIED_EMAIL = "unverified_email"


@dataclass(frozen=True)
class TokenCheck:
    ok: bool
    failure: TokenFailure | None = None
    email: str = ""

    @property
    def status(self) -> int:
        return 200 if self.ok else (401 if self.failure in (
            TokenFailure.MISSING, TokenFailure.INVALID) else 403)


_request: Any = None
_lock = threading.Lock()


def _transport() -> Any:
    global _request
    with _lock:
        if _request is None:
            import requests
            from google.auth.transport import requests as g_requests

            session = requests.Session()
            _request = g_requests.Request(session=session)
        return _request


def bearer(authorization: str | None) -> str:
    if not authorization:
        return ""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def verify(
    authorization: str | None,
    *,
    audience: str,
    allowed_email: str,
    certs_url: str,
    issuers: tuple[str, ...],
) -> TokenCheck:
    token = bearer(authorization)
    if not token:
        return TokenCheck(False, TokenFailure.MISSING)
    from google.oauth2 import id_token

    try:
        claims = id_token.verify_token(
            token, _transport(), audience=audience, certs_url=certs_url,
            clock_skew_in_seconds=10)
    except Exception:  # bad signature, expired, wrong audience, unreachable certs: reject
        return TokenCheck(False, TokenFailure.INVALID)
    if claims.get("iss") not in issuers:
        return TokenCheck(False, TokenFailure.INVALID)
    email = str(claims.get("email") or "")
    if email != allowed_email:
        return TokenCheck(False, TokenFailure.WRONG_ACCOUNT, email)
    if claims.get("email_verified") is not True:
        return TokenCheck(False, TokenFailure.UNVERIFIED_EMAIL, email)
    return TokenCheck(True, email=email)
