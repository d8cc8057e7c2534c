"""The one recording HTTP receiver of the test suites.

It stands for the shop's backend (merchant events in the end-to-end tests) and for the
shop's notification endpoint (the simulator's webhooks in its integration tests). It records
every POST and answers from a script of status codes, then with ``status`` (200).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP server on a free port; ``url`` is its address plus ``path``."""

    def __init__(self, path: str = "/events") -> None:
        self._requests: list[Received] = []
        self.script: deque[int] = deque()  # statuses to answer first, in order
        self.status = 200  # then this one
        self.cond = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self.cond:
            status = self.script.popleft() if self.script else self.status
            parts = urlsplit(path)
            self._requests.append(Received(
                path=parts.path, query=parse_qs(parts.query), raw_query=parts.query,
                headers={k.lower(): v for k, v in headers.items()}, body=body, status=status))
            self.cond.notify_all()
            return status

    def snapshot(self) -> list[Received]:
        with self.cond:
            return list(self._requests)

    def payloads(self) -> list[Any]:
        """The JSON bodies received so far, in arrival order."""
        return [r.json() for r in self.snapshot()]

    def reset(self) -> None:
        """Forget what was received; answer 200 again."""
        with self.cond:
            self._requests.clear()
            self.script.clear()
            self.status = 200

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Everything received, once at least ``count`` requests have arrived."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} requests at {self.url}, got "
                                         f"{len(self._requests)}: {self._requests}")
                self.cond.wait(left)
            return list(self._requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = receiver.record(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
