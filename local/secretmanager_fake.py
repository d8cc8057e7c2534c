"""A small in-memory Secret Manager (``google.cloud.secretmanager.v1``) gRPC server.

The real ``SecretManagerServiceClient`` talks to it over an insecure channel. Methods:
CreateSecret, GetSecret, AddSecretVersion, GetSecretVersion, AccessSecretVersion,
DisableSecretVersion, EnableSecretVersion (others answer UNIMPLEMENTED). Versions are
numbered from 1; ``latest`` is the most recently created version, as documented (if that
version is disabled, accessing ``latest`` fails with FAILED_PRECONDITION, like the service).
Payloads carry ``data_crc32c`` (google_crc32c when installed, else a pure-Python CRC32C).

    python -m local.secretmanager_fake --port 8126 \
        --secret projects/demo-mp-local/secrets/mp-access-token=TEST-123

or in-process: ``fake = start_fake(secrets={"projects/p/secrets/s": "v"})``, then
``fake.add_version("projects/p/secrets/s", "v2")`` and ``fake.stop()``.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.cloud import secretmanager
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)
from google.protobuf import timestamp_pb2

from local.processes import stop_requested

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
MAX_PAYLOAD_BYTES = 64 * 1024
_PROJECT = re.compile(r"^projects/[A-Za-z0-9\-.:]+$")
_SECRET = re.compile(r"^(projects/[A-Za-z0-9\-.:]+)/secrets/([A-Za-z0-9_\-]{1,255})$")
_VERSION = re.compile(r"^(projects/[^/]+/secrets/[^/]+)/versions/([^/]+)$")
_ENABLED = secretmanager.SecretVersion.State.ENABLED
_DISABLED = secretmanager.SecretVersion.State.DISABLED


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli) of ``data``, the checksum Secret Manager reports."""
    try:
        import google_crc32c  # type: ignore[import-not-found]

        return int(google_crc32c.value(data))
    except ImportError:
        crc = 0xFFFFFFFF
        for byte in data:
            crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


class _Error(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromNanoseconds(time.time_ns())
    return ts


@dataclass
class _Version:
    number: int
    data: bytes
    create_time: timestamp_pb2.Timestamp
    state: int = _ENABLED
    client_checksum: bool = False


@dataclass
class _Secret:
    secret: secretmanager.Secret
    versions: list[_Version] = field(default_factory=list)


class SecretStore:
    """Secrets and their versions, in memory, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}

    def create_secret(
        self, parent: str, secret_id: str, secret: secretmanager.Secret
    ) -> secretmanager.Secret:
        """CreateSecret; the replication policy is required, as by the service."""
        if not _PROJECT.match(parent):
            raise _Error(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid parent {parent!r}")
        name = f"{parent}/secrets/{secret_id}"
        if not _SECRET.match(name):
            raise _Error(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid secret id {secret_id!r}")
        pb = secretmanager.Secret.pb(secret)
        if not pb.HasField("replication"):
            raise _Error(grpc.StatusCode.INVALID_ARGUMENT, "Secret.replication is required")
        created: secretmanager.Secret = secretmanager.Secret.deserialize(
            secretmanager.Secret.serialize(secret)
        )
        created.name = name
        created.create_time = _now()
        with self._lock:
            if name in self._secrets:
                raise _Error(grpc.StatusCode.ALREADY_EXISTS, f"Secret [{name}] already exists.")
            self._secrets[name] = _Secret(secret=created)
        return created

    def get_secret(self, name: str) -> secretmanager.Secret:
        """GetSecret."""
        with self._lock:
            return self._secret(name).secret

    def add_version(self, parent: str, data: bytes, checksum: int | None) -> secretmanager.SecretVersion:
        """AddSecretVersion: the next number, ENABLED; checks a client checksum if given."""
        if len(data) > MAX_PAYLOAD_BYTES:
            raise _Error(grpc.StatusCode.INVALID_ARGUMENT, "Secret payload exceeds 64 KiB")
        if checksum is not None and checksum != crc32c(data):
            raise _Error(grpc.StatusCode.INVALID_ARGUMENT, "Checksum mismatch: data_crc32c")
        with self._lock:
            entry = self._secret(parent)
            version = _Version(
                number=len(entry.versions) + 1,
                data=bytes(data),
                create_time=_now(),
                client_checksum=checksum is not None,
            )
            entry.versions.append(version)
            return self._version_message(parent, version)

    def get_version(self, name: str) -> secretmanager.SecretVersion:
        """GetSecretVersion (``latest`` resolves to the newest version)."""
        with self._lock:
            secret_name, version = self._version(name)
            return self._version_message(secret_name, version)

    def access(self, name: str) -> secretmanager.AccessSecretVersionResponse:
        """AccessSecretVersion: payload of an ENABLED version, else FAILED_PRECONDITION."""
        with self._lock:
            secret_name, version = self._version(name)
            full = f"{secret_name}/versions/{version.number}"
            if version.state != _ENABLED:
                state = secretmanager.SecretVersion.State(version.state).name
                raise _Error(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"Secret Version [{full}] is in {state} state.",
                )
            data = version.data
        payload = secretmanager.SecretPayload(data=data, data_crc32c=crc32c(data))
        return secretmanager.AccessSecretVersionResponse(name=full, payload=payload)

    def set_state(self, name: str, state: int) -> secretmanager.SecretVersion:
        """DisableSecretVersion / EnableSecretVersion."""
        with self._lock:
            secret_name, version = self._version(name)
            version.state = state
            return self._version_message(secret_name, version)

    def _secret(self, name: str) -> _Secret:
        if not _SECRET.match(name):
            raise _Error(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid secret name {name!r}")
        entry = self._secrets.get(name)
        if entry is None:
            raise _Error(grpc.StatusCode.NOT_FOUND, f"Secret [{name}] not found or has no versions.")
        return entry

    def _version(self, name: str) -> tuple[str, _Version]:
        match = _VERSION.match(name)
        if not match:
            raise _Error(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid secret version name {name!r}")
        secret_name, ref = match.group(1), match.group(2)
        entry = self._secret(secret_name)
        if ref == "latest":
            if not entry.versions:
                raise _Error(
                    grpc.StatusCode.NOT_FOUND,
                    f"Secret [{secret_name}] not found or has no versions.",
                )
            return secret_name, entry.versions[-1]
        if not ref.isdigit() or not 1 <= int(ref) <= len(entry.versions):
            raise _Error(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")
        return secret_name, entry.versions[int(ref) - 1]

    @staticmethod
    def _version_message(secret_name: str, version: _Version) -> secretmanager.SecretVersion:
        return secretmanager.SecretVersion(
            name=f"{secret_name}/versions/{version.number}",
            create_time=version.create_time,
            state=version.state,
            client_specified_payload_checksum=version.client_checksum,
        )


def _handlers(store: SecretStore) -> grpc.GenericRpcHandler:
    sm = secretmanager

    def create(req: Any) -> Any:
        return store.create_secret(req.parent, req.secret_id, req.secret)

    def add(req: Any) -> Any:
        pb = sm.SecretPayload.pb(req.payload)
        checksum = pb.data_crc32c if pb.HasField("data_crc32c") else None
        return store.add_version(req.parent, pb.data, checksum)

    table: dict[str, tuple[Callable[[Any], Any], Any, Callable[[Any], bytes]]] = {
        "CreateSecret": (create, sm.CreateSecretRequest, sm.Secret.serialize),
        "GetSecret": (lambda r: store.get_secret(r.name), sm.GetSecretRequest, sm.Secret.serialize),
        "AddSecretVersion": (add, sm.AddSecretVersionRequest, sm.SecretVersion.serialize),
        "GetSecretVersion": (
            lambda r: store.get_version(r.name),
            sm.GetSecretVersionRequest,
            sm.SecretVersion.serialize,
        ),
        "AccessSecretVersion": (
            lambda r: store.access(r.name),
            sm.AccessSecretVersionRequest,
            sm.AccessSecretVersionResponse.serialize,
        ),
        "DisableSecretVersion": (
            lambda r: store.set_state(r.name, _DISABLED),
            sm.DisableSecretVersionRequest,
            sm.SecretVersion.serialize,
        ),
        "EnableSecretVersion": (
            lambda r: store.set_state(r.name, _ENABLED),
            sm.EnableSecretVersionRequest,
            sm.SecretVersion.serialize,
        ),
    }

    def wrap(fn: Callable[[Any], Any]) -> Callable[[Any, grpc.ServicerContext], Any]:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return fn(request)
            except _Error as exc:
                context.abort(exc.code, exc.message)

        return handler

    methods = {
        name: grpc.unary_unary_rpc_method_handler(
            wrap(fn), request_deserializer=req.deserialize, response_serializer=ser
        )
        for name, (fn, req, ser) in table.items()
    }
    return grpc.method_handlers_generic_handler(SERVICE, methods)


@dataclass
class FakeHandle:
    """A running fake: ``port``, ``add_version()``, ``stop()``."""

    host: str
    port: int
    store: SecretStore
    _server: grpc.Server

    @property
    def target(self) -> str:
        """``host:port`` (the value for ``SECRET_MANAGER_EMULATOR_HOST``)."""
        return f"{self.host}:{self.port}"

    def client(self) -> secretmanager.SecretManagerServiceClient:
        """A real SecretManagerServiceClient on an insecure channel to this fake."""
        channel = grpc.insecure_channel(self.target)
        transport = SecretManagerServiceGrpcTransport(channel=channel)
        return secretmanager.SecretManagerServiceClient(transport=transport)

    def add_version(self, secret_name: str, value: str | bytes) -> str:
        """Add a version to ``projects/P/secrets/S`` (created if missing); returns its name."""
        return add_version(self.store, secret_name, value)

    def disable_version(self, version_name: str) -> None:
        """Disable ``projects/P/secrets/S/versions/N``."""
        self.store.set_state(version_name, _DISABLED)

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop(grace=0.2).wait(timeout=5)


def add_version(store: SecretStore, secret_name: str, value: str | bytes) -> str:
    """Create ``secret_name`` if needed (automatic replication) and add ``value`` to it."""
    match = _SECRET.match(secret_name)
    if not match:
        raise ValueError(f"want projects/P/secrets/S, got {secret_name!r}")
    data = value.encode("utf-8") if isinstance(value, str) else value
    try:
        store.get_secret(secret_name)
    except _Error:
        auto = secretmanager.Replication(automatic=secretmanager.Replication.Automatic())
        store.create_secret(match.group(1), match.group(2), secretmanager.Secret(replication=auto))
    return str(store.add_version(secret_name, data, None).name)


def start_fake(
    host: str = "127.0.0.1",
    port: int = 0,
    secrets: Mapping[str, str | bytes] | Iterable[tuple[str, str | bytes]] = (),
) -> FakeHandle:
    """Start the fake (port 0 picks a free port), seeded with ``secrets`` name -> value."""
    store = SecretStore()
    pairs = secrets.items() if isinstance(secrets, Mapping) else secrets
    for name, value in pairs:
        add_version(store, name, value)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="sm-fake"))
    server.add_generic_rpc_handlers((_handlers(store),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind {host}:{port}")
    server.start()
    return FakeHandle(host=host, port=bound, store=store, _server=server)


def main(argv: list[str] | None = None) -> int:
    """CLI: serve until SIGTERM / SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m local.secretmanager_fake", description="In-memory Secret Manager."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8126)
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        metavar="projects/P/secrets/NAME=VALUE",
        help="add a version (the secret is created if needed); repeat to add more versions",
    )
    args = parser.parse_args(argv)
    pairs: list[tuple[str, str | bytes]] = []
    for item in args.secret:
        name, sep, value = item.partition("=")
        if not sep or not _SECRET.match(name):
            parser.error(f"--secret wants projects/P/secrets/NAME=VALUE, got {item!r}")
        pairs.append((name, value))
    try:
        handle = start_fake(args.host, args.port, pairs)
    except (OSError, RuntimeError) as exc:
        print(f"secretmanager-fake: {exc}", file=sys.stderr)
        return 2
    stop = stop_requested()
    names = sorted({name for name, _ in pairs})
    print(
        f"secretmanager-fake ready on {handle.target} secrets={','.join(names) or '-'}",
        file=sys.stderr,
        flush=True,
    )
    while not stop.wait(0.5):
        pass
    handle.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
