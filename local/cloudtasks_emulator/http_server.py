"""The emulator's HTTP side: ID token certificates, readiness and an admin view.

* ``GET /oauth2/v1/certs``  ``{kid: PEM certificate}`` (Google's v1 format)
* ``GET /oauth2/v3/certs``  the same key as a JWK set
* ``GET /healthz``          ``ok``
* ``GET /_emulator/tasks``  pending tasks and the history of finished ones, with attempts
* ``POST /_emulator/reset`` purge all queues, forget history and name reservations
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .oidc import Issuer
from .store import Store


class AdminServer(ThreadingHTTPServer):
    """A threading HTTP server bound to a Store and an Issuer."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store, issuer: Issuer) -> None:
        super().__init__(address, _Handler)
        self.store = store
        self.issuer = issuer
        self._thread = threading.Thread(
            target=self.serve_forever, args=(0.05,), name="tasks-http", daemon=True
        )

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server_address[1])

    def start(self) -> None:
        """Serve on a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: AdminServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._send(200, b"ok", "text/plain; charset=utf-8")
        elif path == "/oauth2/v1/certs":
            self._json(self.server.issuer.certs_v1(), cache=True)
        elif path == "/oauth2/v3/certs":
            self._json(self.server.issuer.jwks(), cache=True)
        elif path == "/_emulator/tasks":
            self._json(self.server.store.snapshot())
        else:
            self._send(404, b"not found", "text/plain; charset=utf-8")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.split("?", 1)[0] == "/_emulator/reset":
            self.server.store.reset()
            self._json({"reset": True})
        else:
            self._send(404, b"not found", "text/plain; charset=utf-8")

    def _json(self, data: Any, cache: bool = False) -> None:
        body = json.dumps(data, indent=1).encode("utf-8")
        extra = {"Cache-Control": "public, max-age=3600"} if cache else {}
        self._send(200, body, "application/json", extra)

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return
