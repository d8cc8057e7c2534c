"""The Mercado Pago HTTP client reads the process environment once, when it is built.

``requests`` walks ``os.environ`` (proxies, CA bundle, netrc) on every call when a session
trusts the environment: a third of a call's CPU, and a ``.netrc`` entry for the API host would
replace the SDK's ``Authorization`` header. The client resolves proxies and the CA bundle for
its base URL once and trusts nothing else from the environment afterwards.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from shared.adapters.mercadopago.http import PooledHttpClient

SDK_URL = "https://api.mercadopago.com/v1/payments/1"


class _Recorder(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        body = b'{"id": 1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    handler = type("Recorder", (_Recorder,), {"seen": []})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{srv.server_port}", handler.seen
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy",
                 "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                 "NETRC"):
        monkeypatch.delenv(name, raising=False)


def test_calls_do_not_walk_the_environment(server, monkeypatch):
    address, seen = server
    client = PooledHttpClient(f"http://{address}", 2.0)
    walks: list[str] = []
    real = requests.sessions.get_environ_proxies

    def counting(url: str, no_proxy: str | None = None) -> dict[str, str]:
        walks.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.sessions, "get_environ_proxies", counting)
    for _ in range(3):
        assert client.request("GET", SDK_URL)["status"] == 200
    assert len(seen) == 3
    assert walks == []


def test_a_proxy_set_when_the_client_is_built_is_used(server, monkeypatch):
    address, seen = server
    monkeypatch.setenv("HTTP_PROXY", f"http://{address}")
    # The API host does not resolve: only the proxy can answer.
    client = PooledHttpClient("http://api.example.invalid", 2.0)
    assert client.request("GET", SDK_URL)["status"] == 200
    assert seen[0][0] == "http://api.example.invalid/v1/payments/1"  # absolute: via the proxy


def test_no_proxy_for_the_base_url_is_honoured(server, monkeypatch):
    address, seen = server
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = PooledHttpClient(f"http://{address}", 2.0)
    assert client.request("GET", SDK_URL)["status"] == 200
    assert seen[0][0] == "/v1/payments/1"


def test_a_netrc_entry_never_replaces_the_access_token(server, monkeypatch, tmp_path: Path):
    address, seen = server
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password other\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = PooledHttpClient(f"http://{address}", 2.0)
    client.request("GET", SDK_URL, headers={"Authorization": "Bearer TEST-token"})
    assert seen[0][1] == "Bearer TEST-token"
