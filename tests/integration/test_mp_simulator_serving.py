"""How the simulator serves: kept-alive connections, stopping, request logging."""

from __future__ import annotations

import http.client
import json
import logging

import pytest

from local.mp_simulator import start_simulator
from local.processes import free_ports
from tests.support.simulator import ACCESS_TOKEN

pytestmark = pytest.mark.timeout(30)

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def _get(conn: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    conn.request("GET", path, headers=AUTH)
    response = conn.getresponse()
    response.read()
    return response


def test_two_requests_are_answered_on_one_connection() -> None:
    with start_simulator(access_token=ACCESS_TOKEN) as sim:
        conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
        try:
            first = _get(conn, "/v1/payments/search")
            assert conn.sock is not None, "the server closed the connection after one answer"
            local = conn.sock.getsockname()
            second = _get(conn, "/v1/payments/search")
            assert (first.status, second.status) == (200, 200)
            assert first.getheader("Connection", "").lower() != "close"
            assert conn.sock is not None and conn.sock.getsockname() == local
        finally:
            conn.close()


def test_an_answer_replaced_by_a_fault_keeps_the_connection() -> None:
    with start_simulator(access_token=ACCESS_TOKEN) as sim:
        conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
        try:
            conn.request("POST", "/_sim/faults", body=json.dumps(
                {"status": 500, "count": 1, "path_prefix": "/v1/payments/search",
                 "phase": "after"}))
            assert conn.getresponse().read() and conn.sock is not None
            local = conn.sock.getsockname()
            assert _get(conn, "/v1/payments/search").status == 500
            assert _get(conn, "/v1/payments/search").status == 200
            assert conn.sock is not None and conn.sock.getsockname() == local
        finally:
            conn.close()


def test_stop_closes_kept_connections_and_frees_the_port() -> None:
    port = free_ports(1)[0]
    sim = start_simulator(access_token=ACCESS_TOKEN, port=port)
    conn = http.client.HTTPConnection(sim.host, port, timeout=5)
    try:
        _get(conn, "/v1/payments/search")
        assert conn.sock is not None
        sim.stop()
        assert conn.sock.recv(1) == b"", "the idle connection is closed by stop()"
    finally:
        conn.close()
    # a restarted simulator gets the same port (the closed connections wait in TIME_WAIT)
    with start_simulator(access_token=ACCESS_TOKEN, port=port) as again:
        conn = http.client.HTTPConnection(again.host, port, timeout=5)
        try:
            assert _get(conn, "/v1/payments/search").status == 200
        finally:
            conn.close()


def test_the_request_log_has_method_path_and_status_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="local.mp_simulator.http")
    with start_simulator(access_token=ACCESS_TOKEN, log_requests=True) as sim:
        conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
        try:
            assert _get(conn, "/v1/payments/search?payer.email=buyer%40example.com").status == 200
        finally:
            conn.close()
    lines = [r.getMessage() for r in caplog.records if r.name == "local.mp_simulator.http"]
    assert "GET /v1/payments/search 200" in lines
    assert not any("example" in line or "email" in line for line in lines)
