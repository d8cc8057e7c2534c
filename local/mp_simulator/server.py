"""Serving: werkzeug's threaded server around the app, in a background thread."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .config import SimulatorConfig
from .simulator import Simulator

log = logging.getLogger("local.mp_simulator.http")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class _PathOnlyHandler(WSGIRequestHandler):
    """Logs method, path (no query string) and status: never card data or e-mails."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        log.info("%s %s %s", self.command, path, code)


class SimulatorHandle:
    def __init__(self, simulator: Simulator, server: BaseWSGIServer) -> None:
        self.simulator = simulator
        self._server = server
        self.host = simulator.config.host
        self.port = server.server_port
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, name="mp-sim-http", daemon=True
        )
        self._stopped = False

    def start(self) -> SimulatorHandle:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.simulator.close()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build(config: SimulatorConfig) -> SimulatorHandle:
    simulator = Simulator(config)
    handler = _PathOnlyHandler if config.log_requests else _QuietHandler
    server = make_server(
        config.host, config.port, create_app(simulator), threaded=True, request_handler=handler
    )
    return SimulatorHandle(simulator, server)


def start_simulator(**opts: Any) -> SimulatorHandle:
    """Start in-process on a background thread (``port=0``, the default, picks a free port).

    Keywords are ``SimulatorConfig`` fields; ``retry_delays`` may be a sequence or "1,5,30".
    """
    if isinstance(opts.get("retry_delays"), str):
        from .config import parse_delays

        opts["retry_delays"] = parse_delays(opts["retry_delays"])
    elif "retry_delays" in opts:
        opts["retry_delays"] = tuple(float(d) for d in opts["retry_delays"])
    config = replace(SimulatorConfig(), **opts)
    return build(config).start()
