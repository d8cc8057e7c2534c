"""A local stand-in for Google's ID token issuer.

One RSA key is generated at start-up. Tokens are RS256 JWTs shaped like the ones Cloud Tasks
sends for ``oidc_token`` tasks (iss ``https://accounts.google.com``, aud, azp, email,
email_verified, sub, iat, exp = iat + 1 h, header kid). The public key is published as a
self-signed X.509 certificate in Google's v1 certs format ``{kid: PEM}`` (what
``google.oauth2.id_token.verify_token(..., certs_url=...)`` reads) and as a JWK set.

A token is a function of (e-mail, audience, iat in whole seconds): RS256 (PKCS #1 v1.5)
signatures are deterministic. So tokens are memoized on that key; under load most dispatches
within a second reuse the token instead of paying for an RSA signature, and get the very
bytes a fresh signature would give.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

ISSUER = "https://accounts.google.com"
TOKEN_LIFETIME = 3600
MEMO_SIZE = 256


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def subject_id(email: str) -> str:
    """A stable 21-digit numeric id for a service account e-mail (Google's ``sub`` shape)."""
    digest = int.from_bytes(hashlib.sha256(email.encode("utf-8")).digest()[:10], "big")
    return str(10**20 + digest % (9 * 10**20))


class Issuer:
    """Signs ID tokens with a key generated at construction and publishes its certificate."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudtasks-emulator")])
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365))
            .sign(self._key, hashes.SHA256())
        )
        der = self._cert.public_bytes(serialization.Encoding.DER)
        self.kid = hashlib.sha1(der).hexdigest()
        self.cert_pem = self._cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self._minted: dict[tuple[str, str, int], str] = {}

    def mint(self, email: str, audience: str, now: float | None = None) -> str:
        """An ID token for service account ``email`` with ``aud`` = ``audience``."""
        iat = int(time.time() if now is None else now)
        key = (email, audience, iat)
        token = self._minted.get(key)
        if token is None:
            token = self._sign(email, audience, iat)
            if len(self._minted) >= MEMO_SIZE:
                self._minted.clear()
            self._minted[key] = token
        return token

    def _sign(self, email: str, audience: str, iat: int) -> str:
        sub = subject_id(email)
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        claims: dict[str, Any] = {
            "aud": audience,
            "azp": sub,
            "email": email,
            "email_verified": True,
            "exp": iat + TOKEN_LIFETIME,
            "iat": iat,
            "iss": ISSUER,
            "sub": sub,
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode("utf-8")) for part in (header, claims)
        ).encode("ascii")
        signature = self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return signing_input.decode("ascii") + "." + _b64url(signature)

    def certs_v1(self) -> dict[str, str]:
        """Google's ``/oauth2/v1/certs`` shape: ``{kid: PEM certificate}``."""
        return {self.kid: self.cert_pem}

    def jwks(self) -> dict[str, Any]:
        """Google's ``/oauth2/v3/certs`` shape: a JWK set."""
        numbers = self._key.public_key().public_numbers()
        key = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _b64url_uint(numbers.n),
            "e": _b64url_uint(numbers.e),
        }
        return {"keys": [key]}
