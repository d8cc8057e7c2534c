"""Serves the reference checkout page (``web/``) for ``make dev`` and the browser tests.

    python -m local.storefront --port 8080 --api-url http://127.0.0.1:8081 \\
        --sdk-url http://127.0.0.1:8090/js/v2 --public-key TEST-local-public-key

Static files only; ``/config.json`` is answered from the flags, so the page talks to the local
stack and loads the simulator's SDK stand-in (``web/config.json`` holds the production values:
Mercado Pago's CDN and a placeholder public key).
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.processes import serve_until_interrupted

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"


class _Handler(SimpleHTTPRequestHandler):
    config: bytes = b"{}"

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def end_headers(self) -> None:
        if self.path.split("?", 1)[0] != "/config.json":
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"storefront: {self.command} {self.path.split('?', 1)[0]}\n")


def page_config(api_url: str, sdk_url: str, security_url: str, public_key: str,
                locale: str = "pt-BR") -> dict[str, str]:
    return {"sdk_url": sdk_url, "security_url": security_url, "public_key": public_key,
            "api_url": api_url.rstrip("/"), "locale": locale}


def serve(host: str, port: int, config: dict[str, str]) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"config": json.dumps(config).encode()})
    server = ThreadingHTTPServer((host, port), partial(handler, directory=str(WEB_ROOT)))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m local.storefront", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--api-url", required=True, help="create_payment's URL")
    p.add_argument("--sdk-url", required=True, help="the JS SDK (the simulator's /js/v2)")
    p.add_argument("--security-url", default="", help="security.js (device fingerprint)")
    p.add_argument("--public-key", required=True)
    p.add_argument("--locale", default="pt-BR")
    a = p.parse_args(argv)
    server = serve(a.host, a.port, page_config(a.api_url, a.sdk_url, a.security_url,
                                               a.public_key, a.locale))
    print(f"storefront on http://{a.host}:{a.port}/", flush=True)
    return serve_until_interrupted(server)


if __name__ == "__main__":
    sys.exit(main())
