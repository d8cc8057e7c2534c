"""A local stand-in for Cloud Run's front end before an IAM-protected service (never deployed).

    python -m local.run_frontend --certs-url URL \\
        --route fulfill,8083,http://127.0.0.1:18083,http://127.0.0.1:8083,tasks@p.iam.gserviceaccount.com

Each ``--route NAME,PORT,UPSTREAM,AUDIENCE,INVOKER`` owns a public port. Like Cloud Run's IAM
check it verifies the ID token of every request (``X-Serverless-Authorization`` when present,
else ``Authorization``): signature against the local issuer's certs, ``aud`` = the service's
URL, ``iss``, expiry, and the one account holding ``run.invoker``. It answers 401 (no or bad
token) and 403 (another account) itself; a request it lets through goes to the function's own
(internal) port with the token's signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE``, which is
what the deployed function receives and why it runs with ``CALLER_AUTH=cloud_run_iam``.
One JSON line per request on stdout: ``forwarded`` or ``caller_refused`` (Cloud Run's request
log, where refusals show as 401/403).
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import sys
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from shared.adapters import idtoken
from shared.platform.config import GOOGLE_ISSUERS

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "trailers", "transfer-encoding", "upgrade",
                        "content-length", "host"})
MAX_BODY = 32 * 1024 * 1024  # Cloud Run's request size limit
UPSTREAM_TIMEOUT = 1800.0  # Cloud Tasks' longest dispatch deadline
_print_lock = threading.Lock()


@dataclass(frozen=True)
class Route:
    name: str
    port: int
    upstream: str  # http://host:port of the function
    audience: str
    invoker: str

    @classmethod
    def parse(cls, text: str) -> Route:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 5 or not parts[1].isdigit():
            raise argparse.ArgumentTypeError(f"--route NAME,PORT,UPSTREAM,AUDIENCE,INVOKER: {text!r}")
        return cls(parts[0], int(parts[1]), parts[2].rstrip("/"), parts[3], parts[4])


def _say(record: dict[str, Any]) -> None:
    line = json.dumps(record, separators=(",", ":")) + "\n"
    with _print_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def strip_signature(value: str) -> str:
    """``Bearer h.p.s`` -> ``Bearer h.p.SIGNATURE_REMOVED_BY_GOOGLE``."""
    token = idtoken.bearer(value)
    header, payload, _ = token.split(".")
    return f"Bearer {header}.{payload}.{idtoken.MARKER}"


class FrontEnd(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, route: Route, host: str, certs_url: str, cache: idtoken.CertCache) -> None:
        super().__init__((host, route.port), _Handler)
        self.route = route
        self.certs_url = certs_url
        self.cache = cache


class _Handler(BaseHTTPRequestHandler):
    server: FrontEnd
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        route = self.server.route
        body = self._read_body()
        if body is None:
            return
        serverless = self.headers.get("X-Serverless-Authorization")
        checked_header = "X-Serverless-Authorization" if serverless is not None else "Authorization"
        check = idtoken.verify(idtoken.authorization(self.headers), audience=route.audience,
                               allowed_email=route.invoker, certs_url=self.server.certs_url,
                               issuers=GOOGLE_ISSUERS, accept_stripped=False,
                               cache=self.server.cache)
        path = urllib.parse.urlsplit(self.path).path
        if not check.ok:
            assert check.failure is not None
            status = check.status
            _say({"event": "caller_refused", "service": route.name, "method": self.command,
                  "path": path, "status": status, "reason": check.failure.value})
            text = {401: "Unauthorized", 403: "Forbidden"}.get(status, "Service Unavailable")
            self._send(status, f"<html><body><h1>{status} {text}</h1><p>Your client does not have "
                       f"permission to get URL {path} from this server.</p></body></html>".encode(),
                       {"Content-Type": "text/html; charset=UTF-8"})
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP
                   and k.lower() != checked_header.lower()}
        headers[checked_header] = strip_signature(self.headers[checked_header])
        headers["Host"] = self.headers.get("Host", "")
        headers["X-Forwarded-For"] = self.client_address[0]
        headers["X-Forwarded-Proto"] = "http"
        upstream = urllib.parse.urlsplit(route.upstream)
        conn = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port or 80,
                                          timeout=UPSTREAM_TIMEOUT)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            status = response.status
            out = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
        except OSError as exc:
            _say({"event": "upstream_unavailable", "service": route.name, "error": type(exc).__name__})
            self._send(503, b"Service Unavailable", {"Content-Type": "text/plain"})
            return
        finally:
            conn.close()
        _say({"event": "forwarded", "service": route.name, "method": self.command, "path": path,
              "status": status, "signature": "removed_by_google",
              "checked_header": checked_header})
        self._send(status, answer, out)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    self._send(413, b"Request Entity Too Large", {"Content-Type": "text/plain"})
                    self.close_connection = True
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(413, b"Request Entity Too Large", {"Content-Type": "text/plain"})
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve(routes: Sequence[Route], host: str, certs_url: str) -> list[FrontEnd]:
    """Bind every route's port, then serve each on a background thread."""
    cache = idtoken.CertCache()
    servers = [FrontEnd(route, host, certs_url, cache) for route in routes]
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True,
                         name=f"frontend-{server.route.name}").start()
    return servers


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.run_frontend", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--certs-url", required=True, help="the ID token issuer's v1 certs")
    parser.add_argument("--route", type=Route.parse, action="append", required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    servers = serve(args.route, args.host, args.certs_url)
    for server in servers:
        r = server.route
        _say({"event": "listening", "service": r.name, "port": r.port, "upstream": r.upstream,
              "audience": r.audience, "invoker": r.invoker})
    while not stop.wait(0.5):
        pass
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
