"""Serving: cheroot's threaded HTTP/1.1 server around the app, in a background thread.

Mercado Pago's API keeps connections alive and our client pools them, so the simulator does
too (werkzeug's development server closes every connection, which made each local SDK call
pay a new TCP connection). Faults need no closed connection: an error status is an ordinary
answer, and a hang ends on the client's side when its timeout drops the connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from cheroot import wsgi
from cheroot.workers.threadpool import ThreadPool, WorkerThread

from .app import create_app
from .config import SimulatorConfig
from .simulator import Simulator

log = logging.getLogger("local.mp_simulator.http")

# Workers answer requests; an idle kept-alive connection holds none (cheroot parks it in a
# selector). A hang fault holds its worker until it ends, so the pool is generous.
THREADS = 64
# An idle kept-alive connection is closed after this long (and any socket read times out).
IDLE_TIMEOUT_S = 60
BACKLOG = 128
# Idle connections kept open at once (cheroot's default, 10, is less than the stack's pools).
KEPT_ALIVE = 1000


def _path_logging(app: WSGIApplication) -> WSGIApplication:
    """Logs method, path (no query string) and status: never card data or e-mails."""

    def logged(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            log.info("%s %s %s", environ.get("REQUEST_METHOD", "-"),
                     environ.get("PATH_INFO", "-"), status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return logged


class _DaemonPool(ThreadPool):
    """cheroot's worker pool with daemon workers, like the server thread (as werkzeug's were)."""

    def _spawn_worker(self) -> WorkerThread:
        worker = WorkerThread(self.server)  # type: ignore[no-untyped-call]  # untyped stub
        worker.name = f"mp-sim-worker-{worker.name}"
        worker.daemon = True
        worker.start()
        return worker


class _Server(wsgi.Server):
    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        log.log(level, "%s", msg, exc_info=traceback)


def _server(config: SimulatorConfig, app: WSGIApplication) -> _Server:
    server = _Server((config.host, config.port), app, numthreads=THREADS,
                     request_queue_size=BACKLOG, timeout=IDLE_TIMEOUT_S, shutdown_timeout=5)
    server.requests = _DaemonPool(server, min=THREADS, max=THREADS)
    server.keep_alive_conn_limit = KEPT_ALIVE
    server.expiration_interval = 0.1  # how long stop() may wait for the selector loop
    server.prepare()  # binds (port 0: a free port) and starts the workers
    return server


class SimulatorHandle:
    def __init__(self, simulator: Simulator, server: _Server) -> None:
        self.simulator = simulator
        self._server = server
        self.host = simulator.config.host
        self.port = int(server.bind_addr[1])
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=server.serve, name="mp-sim-http", daemon=True)
        self._stopped = False

    def start(self) -> SimulatorHandle:
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve()

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self.simulator.close()  # ends any hang fault first, so the workers are free to stop
        self._server.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build(config: SimulatorConfig) -> SimulatorHandle:
    simulator = Simulator(config)
    app: WSGIApplication = create_app(simulator)
    if config.log_requests:
        app = _path_logging(app)
    return SimulatorHandle(simulator, _server(config, app))


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
