"""Starting and stopping a whole emulator (gRPC API, dispatcher, HTTP side) in-process."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent import futures
from dataclasses import dataclass

import grpc
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from .dispatcher import Dispatcher
from .grpc_service import CloudTasksService, generic_handler
from .http_server import AdminServer
from .names import location_path, queue_path
from .oidc import Issuer
from .queues import QueueSpec
from .store import Store
from .task_input import SERVICE_MIN_DISPATCH_DEADLINE

# Threads answering RPCs. Every handler is short (no handler waits on a target: dispatches run
# on their own threads), so a few suffice; with 16 concurrent callers, 16 workers cost about
# half as much CPU again per call as 4, in thread wake-ups and GIL hand-offs.
GRPC_WORKERS = 4


@dataclass
class EmulatorHandle:
    """A running emulator: its ports, its state, and ``stop()``."""

    host: str
    grpc_port: int
    http_port: int
    project: str
    location: str
    store: Store
    issuer: Issuer
    _grpc_server: grpc.Server
    _admin: AdminServer
    _dispatcher: Dispatcher

    @property
    def grpc_target(self) -> str:
        """``host:port`` of the gRPC API (the value for ``CLOUD_TASKS_EMULATOR_HOST``)."""
        return f"{self.host}:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP side."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def certs_url(self) -> str:
        """Where the ID token signing certificate is served (``ID_TOKEN_CERTS_URL``)."""
        return f"{self.http_url}/oauth2/v1/certs"

    def queue_path(self, queue_id: str) -> str:
        """Full name of a queue in the emulator's default project and location."""
        return queue_path(self.project, self.location, queue_id)

    def client(self) -> tasks_v2.CloudTasksClient:
        """A real CloudTasksClient on an insecure channel to this emulator."""
        channel = grpc.insecure_channel(self.grpc_target)
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))

    def reset(self) -> None:
        """Purge all queues, history and reservations."""
        self.store.reset()

    def stop(self) -> None:
        """Stop serving; in-flight dispatches are abandoned."""
        self._dispatcher.stop()
        self._grpc_server.stop(grace=0.2).wait(timeout=5)
        self._admin.stop()


def start_emulator(
    host: str = "127.0.0.1",
    grpc_port: int = 0,
    http_port: int = 0,
    project: str = "demo-mp-local",
    location: str = "us-central1",
    queues: Iterable[QueueSpec | str] = (),
    time_scale: float = 1.0,
    reservation_seconds: float = 3600.0,
    min_dispatch_deadline: float = SERVICE_MIN_DISPATCH_DEADLINE,
) -> EmulatorHandle:
    """Start an emulator; port 0 picks a free port. ``queues`` are pre-created."""
    if time_scale <= 0:
        raise ValueError("time_scale must be > 0")
    store = Store(reservation_seconds=reservation_seconds, time_scale=time_scale)
    for spec in queues:
        parsed = QueueSpec.parse(spec) if isinstance(spec, str) else spec
        queue = parsed.to_queue(queue_path(project, location, parsed.queue_id))
        store.create_queue(location_path(project, location), queue)
    issuer = Issuer()
    dispatcher = Dispatcher(store, issuer)
    service = CloudTasksService(store, dispatcher, min_dispatch_deadline)
    workers = futures.ThreadPoolExecutor(max_workers=GRPC_WORKERS, thread_name_prefix="tasks-grpc")
    server = grpc.server(workers)
    server.add_generic_rpc_handlers((generic_handler(service),))
    bound = server.add_insecure_port(f"{host}:{grpc_port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {host}:{grpc_port}")
    admin = AdminServer((host, http_port), store, issuer)
    server.start()
    admin.start()
    dispatcher.start()
    return EmulatorHandle(
        host=host,
        grpc_port=bound,
        http_port=admin.port,
        project=project,
        location=location,
        store=store,
        issuer=issuer,
        _grpc_server=server,
        _admin=admin,
        _dispatcher=dispatcher,
    )
