"""The local Cloud Run front end (local/run_frontend.py) in front of a recording upstream."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from local.processes import free_ports
from local.run_frontend import Route, serve
from tests.support.idtokens import MARKER, Minter, certs_server, unsigned

AUD = "http://127.0.0.1:8083"
SA = "tasks-invoker@demo-mp-local.iam.gserviceaccount.com"


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Upstream.seen.append({"headers": dict(self.headers.items()), "body": body,
                               "path": self.path})
        answer = b'{"result":"applied"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module")
def minter() -> Minter:
    return Minter()


@pytest.fixture
def front(minter: Minter) -> Iterator[str]:
    _Upstream.seen = []
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    threading.Thread(target=upstream.serve_forever, args=(0.05,), daemon=True).start()
    port = free_ports(1)[0]
    with certs_server(minter.certs()) as certs:
        servers = serve([Route("fulfill", port, f"http://127.0.0.1:{upstream.server_address[1]}",
                               AUD, SA)], "127.0.0.1", certs.url)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
            upstream.shutdown()
            upstream.server_close()


def test_a_valid_token_is_forwarded_with_its_signature_removed(front, minter):
    token = minter.token(AUD, SA)
    r = requests.post(front + "/?x=1", data=b'{"topic":"payment"}', timeout=10,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {"result": "applied"}
    [seen] = _Upstream.seen
    header, payload, _ = token.split(".")
    assert seen["headers"]["Authorization"] == f"Bearer {header}.{payload}.{MARKER}"
    assert seen["body"] == b'{"topic":"payment"}' and seen["path"] == "/?x=1"


def test_x_serverless_authorization_is_checked_and_authorization_passes_untouched(front, minter):
    token = minter.token(AUD, SA)
    r = requests.post(front + "/", data=b"{}", timeout=10, headers={
        "X-Serverless-Authorization": f"Bearer {token}", "Authorization": "Bearer app-credential"})
    assert r.status_code == 200
    [seen] = _Upstream.seen
    assert seen["headers"]["X-Serverless-Authorization"].endswith("." + MARKER)
    assert seen["headers"]["Authorization"] == "Bearer app-credential"


@pytest.mark.parametrize(("make", "status"), [
    (lambda m: None, 401),
    (lambda m: m.stripped(AUD, SA), 401),  # a marker token is no signature
    (lambda m: unsigned(m.claims(AUD, SA)), 401),
    (lambda m: Minter().token(AUD, SA), 401),  # signed by someone else
    (lambda m: m.token("http://127.0.0.1:8084", SA), 401),
    (lambda m: m.token(AUD, "intruder@demo-mp-local.iam.gserviceaccount.com"), 403),
])
def test_refusals_are_answered_by_the_front_end_itself(front, minter, make, status):
    token = make(minter)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = requests.post(front + "/", data=b"{}", headers=headers, timeout=10)
    assert r.status_code == status
    assert _Upstream.seen == []  # the function never saw it


def test_a_chunked_body_is_forwarded_whole(front, minter):
    def chunks() -> Iterator[bytes]:
        yield b'{"topic":'
        yield b'"payment"}'

    r = requests.post(front + "/", data=chunks(), timeout=10,
                      headers={"Authorization": f"Bearer {minter.token(AUD, SA)}"})
    assert r.status_code == 200
    assert json.loads(_Upstream.seen[0]["body"]) == {"topic": "payment"}
