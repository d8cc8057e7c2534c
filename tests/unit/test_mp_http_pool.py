"""The Mercado Pago HTTP client on its connection pool: connections kept alive, requests as
``requests`` wrote them, and a redirect never followed (an unknown outcome)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from shared.adapters.mercadopago.errors import ProviderUnavailable
from shared.adapters.mercadopago.http import PooledHttpClient

SDK = "https://api.mercadopago.com"


class _Server(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: list[Any] = []
    seen: list[tuple[str, str, bytes, dict[str, str]]] = []
    redirect = False

    def setup(self) -> None:
        super().setup()
        type(self).connections.append(self.client_address)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        type(self).seen.append((self.command, self.path, body, dict(self.headers.items())))
        if type(self).redirect:
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        out = b'{"id": 1, "transaction_amount": 10.10}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _answer  # noqa: N815 (http.server's names)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[type[_Server]]:
    handler = type("Server", (_Server,), {"connections": [], "seen": [], "redirect": False})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    handler.base = f"http://127.0.0.1:{srv.server_port}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        srv.shutdown()
        srv.server_close()


def test_calls_reuse_one_kept_alive_connection(server):
    client = PooledHttpClient(server.base, 2.0)
    for _ in range(5):
        answer = client.request("GET", f"{SDK}/v1/payments/1", headers={"Authorization": "x"})
        assert answer["status"] == 200
    assert len(server.seen) == 5
    assert len(server.connections) == 1


def test_the_request_is_written_as_requests_wrote_it(server):
    client = PooledHttpClient(server.base, 2.0)
    answer = client.request("GET", f"{SDK}/v1/payments/search",
                            params={"external_reference": "ord 1", "offset": 0, "none": None},
                            headers={"Authorization": "Bearer T"})
    client.request("POST", f"{SDK}/v1/payments", data='{"a": 1}',
                   headers={"Content-Type": "application/json", "x-idempotency-key": "k"})
    (_, path, _, headers), (method, post_path, body, post_headers) = server.seen
    assert path == "/v1/payments/search?external_reference=ord+1&offset=0"
    assert headers["Authorization"] == "Bearer T"
    assert (method, post_path, body) == ("POST", "/v1/payments", b'{"a": 1}')
    assert post_headers["Content-Length"] == "8"
    assert post_headers["x-idempotency-key"] == "k"
    assert str(answer["response"]["transaction_amount"]) == "10.10"  # a Decimal, exact


def test_a_redirect_is_an_unknown_outcome_never_followed(server):
    server.redirect = True
    client = PooledHttpClient(server.base, 2.0)
    with pytest.raises(ProviderUnavailable) as caught:
        client.request("POST", f"{SDK}/v1/payments", data="{}")
    assert caught.value.sent is True
    assert [path for _, path, _, _ in server.seen] == ["/v1/payments"]
