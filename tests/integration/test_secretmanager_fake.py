"""The in-memory Secret Manager fake, driven by the real google-cloud-secret-manager client."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.api_core import exceptions
from google.cloud import secretmanager
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)

from local.secretmanager_fake import FakeHandle, crc32c, start_fake
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "projects/demo-mp-local/secrets/mp-access-token"


@pytest.fixture
def fake() -> Iterator[FakeHandle]:
    handle = start_fake(secrets={SECRET: "TEST-token-v1"})
    yield handle
    handle.stop()


@pytest.fixture
def client(fake: FakeHandle) -> secretmanager.SecretManagerServiceClient:
    channel = grpc.insecure_channel(f"127.0.0.1:{fake.port}")
    transport = SecretManagerServiceGrpcTransport(channel=channel)
    return secretmanager.SecretManagerServiceClient(transport=transport)


def test_access_a_version(client):
    response = client.access_secret_version(name=f"{SECRET}/versions/1")
    assert response.name == f"{SECRET}/versions/1"
    assert response.payload.data == b"TEST-token-v1"
    assert response.payload.data_crc32c == crc32c(b"TEST-token-v1")


def test_crc32c_is_castagnoli():
    assert crc32c(b"123456789") == 0xE3069283


def test_latest_follows_added_versions(fake, client):
    assert client.access_secret_version(name=f"{SECRET}/versions/latest").payload.data == (b"TEST-token-v1")
    assert fake.add_version(SECRET, "TEST-token-v2") == f"{SECRET}/versions/2"
    latest = client.access_secret_version(name=f"{SECRET}/versions/latest")
    assert latest.name == f"{SECRET}/versions/2"
    assert latest.payload.data == b"TEST-token-v2"

    added = client.add_secret_version(
        parent=SECRET,
        payload=secretmanager.SecretPayload(data=b"v3", data_crc32c=crc32c(b"v3")),
    )
    assert added.name == f"{SECRET}/versions/3"
    assert added.state == secretmanager.SecretVersion.State.ENABLED
    assert client.access_secret_version(name=f"{SECRET}/versions/latest").payload.data == b"v3"
    assert client.get_secret_version(name=f"{SECRET}/versions/latest").name == added.name
    assert client.access_secret_version(name=f"{SECRET}/versions/1").payload.data == (b"TEST-token-v1")


def test_missing_secret_or_version_is_not_found(client):
    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name="projects/demo-mp-local/secrets/nope/versions/latest")
    with pytest.raises(exceptions.NotFound):
        client.access_secret_version(name=f"{SECRET}/versions/7")
    with pytest.raises(exceptions.NotFound):
        client.get_secret_version(name=f"{SECRET}/versions/7")
    with pytest.raises(exceptions.NotFound):
        client.add_secret_version(
            parent="projects/demo-mp-local/secrets/nope",
            payload=secretmanager.SecretPayload(data=b"x"),
        )


def test_create_secret_and_checksum_mismatch(client):
    parent = "projects/demo-mp-local"
    secret = secretmanager.Secret(
        replication=secretmanager.Replication(automatic=secretmanager.Replication.Automatic())
    )
    created = client.create_secret(parent=parent, secret_id="merchant-webhook-secret", secret=secret)
    assert created.name == f"{parent}/secrets/merchant-webhook-secret"
    with pytest.raises(exceptions.AlreadyExists):
        client.create_secret(parent=parent, secret_id="merchant-webhook-secret", secret=secret)
    with pytest.raises(exceptions.InvalidArgument):
        client.create_secret(parent=parent, secret_id="no-replication", secret=secretmanager.Secret())
    with pytest.raises(exceptions.InvalidArgument):
        client.add_secret_version(
            parent=created.name, payload=secretmanager.SecretPayload(data=b"x", data_crc32c=1)
        )


def test_disabled_version_is_failed_precondition(fake, client):
    fake.add_version(SECRET, "v2")
    client.disable_secret_version(name=f"{SECRET}/versions/2")
    with pytest.raises(exceptions.FailedPrecondition):
        client.access_secret_version(name=f"{SECRET}/versions/2")
    # ``latest`` is the newest version, enabled or not, as the service documents
    with pytest.raises(exceptions.FailedPrecondition):
        client.access_secret_version(name=f"{SECRET}/versions/latest")
    assert client.access_secret_version(name=f"{SECRET}/versions/1").payload.data == (b"TEST-token-v1")
    client.enable_secret_version(name=f"{SECRET}/versions/2")
    assert client.access_secret_version(name=f"{SECRET}/versions/latest").payload.data == b"v2"


def test_cli_serves_secrets_and_stops_on_sigterm():
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local.secretmanager_fake",
            "--port",
            str(port),
            "--secret",
            f"{SECRET}=first",
            "--secret",
            f"{SECRET}=second=with=equals",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=10)
        transport = SecretManagerServiceGrpcTransport(channel=channel)
        cli_client = secretmanager.SecretManagerServiceClient(transport=transport)
        latest = wait_until(
            lambda: cli_client.access_secret_version(name=f"{SECRET}/versions/latest"), 5,
            "the fake to serve the secret", retry_on=(exceptions.ServiceUnavailable,))
        assert latest.payload.data == b"second=with=equals"
        assert latest.name == f"{SECRET}/versions/2"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
