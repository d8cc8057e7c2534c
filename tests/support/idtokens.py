"""Google-shaped ID tokens for tests, and a certs server that counts its hits.

``Minter`` signs RS256 tokens with its own key (claims overridable, a claim set to ``None``
is left out) and can turn any token into what Cloud Run forwards to the container: the same
header and payload with the signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE``.
``CertsServer`` publishes certificates in Google's v1 format with a chosen ``Cache-Control``
and status, and counts the requests it answers.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

MARKER = "SIGNATURE_REMOVED_BY_GOOGLE"
GOOGLE_ISSUER = "https://accounts.google.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def strip_signature(token: str) -> str:
    """What Cloud Run hands the container after its IAM check."""
    header, payload, _ = token.split(".")
    return f"{header}.{payload}.{MARKER}"


def unsigned(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """A forged token: any claims, the marker in place of a signature."""
    head = header or {"alg": "RS256", "kid": "forged", "typ": "JWT"}
    return ".".join([b64url(json.dumps(head).encode()), b64url(json.dumps(claims).encode()), MARKER])


class Minter:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-issuer")])
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1))
                .not_valid_after(now + dt.timedelta(days=30))
                .sign(self.key, hashes.SHA256()))
        self.kid = hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
        self.cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def certs(self) -> dict[str, str]:
        return {self.kid: self.cert_pem}

    def claims(self, audience: str, email: str, /, **overrides: Any) -> dict[str, Any]:
        iat = int(time.time())
        claims: dict[str, Any] = {
            "aud": audience, "azp": "117", "email": email, "email_verified": True,
            "exp": iat + 3600, "iat": iat, "iss": GOOGLE_ISSUER, "sub": "117",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, audience: str, email: str, /, **overrides: Any) -> str:
        header = {"alg": "RS256", "kid": self.kid, "typ": "JWT"}
        signing_input = ".".join(
            b64url(json.dumps(part).encode()) for part in (header, self.claims(audience, email,
                                                                                **overrides)))
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"

    def stripped(self, audience: str, email: str, /, **overrides: Any) -> str:
        return strip_signature(self.token(audience, email, **overrides))


class CertsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, certs: dict[str, str], cache_control: str = "public, max-age=300") -> None:
        super().__init__(("127.0.0.1", 0), _CertsHandler)
        self.certs = certs
        self.cache_control = cache_control
        self.status = 200
        self.hits = 0
        self.extra_headers: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/oauth2/v1/certs"

    def count(self) -> None:
        with self._lock:
            self.hits += 1


class _CertsHandler(BaseHTTPRequestHandler):
    server: CertsServer

    def do_GET(self) -> None:
        self.server.count()
        body = json.dumps(self.server.certs).encode() if self.server.status == 200 else b"down"
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if self.server.cache_control:
            self.send_header("Cache-Control", self.server.cache_control)
        for key, value in self.server.extra_headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def certs_server(certs: dict[str, str], cache_control: str = "public, max-age=300"
                 ) -> Iterator[CertsServer]:
    server = CertsServer(certs, cache_control)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
