"""A local stand-in for the shop's backend: receives the signed merchant events and prints them.

``make dev`` starts it on ``MERCHANT_EVENTS_PORT`` (8089) and points ``MERCHANT_WEBHOOK_URL`` at
it unless that is set. Each event is printed on one line with whether its ``X-Signature``
verifies with the local ``MERCHANT_WEBHOOK_SECRET``; it answers 200 (a shop answering non-2xx
gets the event again later).

    python -m local.merchant_events --port 8089 --secret dev-merchant-webhook-secret
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from local.processes import serve_until_interrupted
from shared.domain import events


def describe(body: bytes, signature: str, secret: str) -> str:
    try:
        event: Any = json.loads(body)
    except ValueError:
        return f"event (not JSON, {len(body)} bytes)"
    if not isinstance(event, dict):
        return "event (not an object)"
    verified = bool(secret) and events.verify(secret, signature, body, 600, time.time())
    fields = " ".join(f"{k}={event[k]}" for k in ("order_id", "payment_id", "amount", "currency",
                                                  "refunded_amount") if event.get(k) is not None)
    return (f"{event.get('type', '?')} {fields} id={event.get('id')} "
            f"signature={'valid' if verified else 'INVALID'}")


def serve(host: str, port: int, secret: str) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20))
            print(describe(body, self.headers.get("X-Signature", ""), secret), flush=True)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m local.merchant_events", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8089)
    p.add_argument("--secret", default="", help="MERCHANT_WEBHOOK_SECRET, to verify signatures")
    a = p.parse_args(argv)
    server = serve(a.host, a.port, a.secret)
    print(f"merchant events receiver on http://{a.host}:{a.port}/events", flush=True)
    return serve_until_interrupted(server)


if __name__ == "__main__":
    sys.exit(main())
