"""Secrets from one of three sources, read when needed, cached for a short TTL.

- ``NAME``: a literal value (local runs only).
- ``NAME_FILE``: a file path. Cloud Run mounts a Secret Manager secret as a volume; each read
  of that file fetches the latest version, so a rotation reaches warm instances without a
  redeploy and the function needs no Secret Manager client.
- ``NAME_SECRET``: a Secret Manager version name (``projects/P/secrets/S/versions/V``), read
  with google-cloud-secret-manager, imported only on this path.

A configured secret that cannot be read raises :class:`SecretUnavailable`; a missing one makes
:func:`require` raise :class:`MissingSecret`. Callers fail closed on both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from shared.domain.records import record

API_READ_SECONDS = 3.0


if TYPE_CHECKING:
    from shared.platform.config import Settings

class SecretError(RuntimeError):
    """Base class: a secret the function needs is not available."""


class MissingSecret(SecretError):
    """No source is configured for a required secret."""


class SecretUnavailable(SecretError):
    """A source is configured but reading it failed (file missing, API error, empty value)."""


@record(frozen=True)
class SecretRef:
    """Where one secret comes from. ``name`` is the logical name, e.g. ``MP_ACCESS_TOKEN``."""

    name: str
    literal: str | None = None
    file: str | None = None
    version: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.literal or self.file or self.version)

    @property
    def source(self) -> str:
        if self.literal:
            return "literal"
        if self.file:
            return "file"
        if self.version:
            return "secret_manager"
        return "none"

    def __repr__(self) -> str:  # never show a literal value
        return f"SecretRef({self.name}, source={self.source})"


def secret_ref(env: Mapping[str, str], name: str) -> SecretRef:
    """Build the reference for ``name`` from ``NAME`` / ``NAME_FILE`` / ``NAME_SECRET``."""
    return SecretRef(
        name=name,
        literal=env.get(name) or None,
        file=env.get(f"{name}_FILE") or None,
        version=env.get(f"{name}_SECRET") or None,
    )


class SecretReader:
    """Reads secrets through their references, caching file and API reads for ``ttl`` seconds."""

    def __init__(
        self,
        ttl_seconds: float = 60,
        secret_manager_host: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._host = secret_manager_host
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._client: Any = None

    def get(self, ref: SecretRef) -> str | None:
        """The secret's value, or None when no source is configured."""
        if ref.literal:
            return ref.literal
        if ref.file:
            return self._cached(("file", ref.file), lambda: self._read_file(ref))
        if ref.version:
            return self._cached(("sm", ref.version), lambda: self._read_api(ref))
        return None

    def require(self, ref: SecretRef) -> str:
        value = self.get(ref)
        if value is None:
            raise MissingSecret(f"secret {ref.name} is not configured")
        return value

    def _cached(self, key: tuple[str, str], load: Callable[[], str]) -> str:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > now:
                return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now + self._ttl, value)
        return value

    @staticmethod
    def _read_file(ref: SecretRef) -> str:
        assert ref.file is not None
        try:
            with open(ref.file, encoding="utf-8") as handle:
                value = handle.read().strip()
        except OSError as exc:
            raise SecretUnavailable(f"secret {ref.name}: cannot read its file") from exc
        if not value:
            raise SecretUnavailable(f"secret {ref.name}: its file is empty")
        return value

    def _read_api(self, ref: SecretRef) -> str:
        assert ref.version is not None
        client = self._secret_manager()
        from google.api_core import retry as gretry

        # Bounded: a webhook must still answer within Mercado Pago's 22 s when the API is down.
        bounded = gretry.Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=API_READ_SECONDS)
        try:
            response = client.access_secret_version(
                name=ref.version, retry=bounded, timeout=API_READ_SECONDS)
            value = str(response.payload.data.decode("utf-8")).strip()
        except Exception as exc:  # any API failure: fail closed
            raise SecretUnavailable(f"secret {ref.name}: Secret Manager read failed") from exc
        if not value:
            raise SecretUnavailable(f"secret {ref.name}: the version is empty")
        return value

    def _secret_manager(self) -> Any:
        with self._lock:
            if self._client is None:
                from google.cloud import secretmanager

                if self._host:
                    import grpc
                    from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
                        SecretManagerServiceGrpcTransport,
                    )

                    channel = grpc.insecure_channel(self._host)
                    self._client = secretmanager.SecretManagerServiceClient(
                        transport=SecretManagerServiceGrpcTransport(channel=channel)
                    )
                else:
                    self._client = secretmanager.SecretManagerServiceClient()
            return self._client


_readers: dict[tuple[float, str | None], SecretReader] = {}
_reader_lock = threading.Lock()


def reader(settings: Settings | None = None) -> SecretReader:
    """The instance's reader for ``settings`` (the process's settings when not given): one per
    cache TTL and Secret Manager endpoint, created on first use and kept for the instance.

    Use cases pass the settings they were built with, so they never read the environment."""
    if settings is None:
        from shared.platform.config import settings as current  # config imports this module

        settings = current()
    key = (settings.secret_cache_ttl_seconds, settings.secret_manager_emulator_host)
    with _reader_lock:
        found = _readers.get(key)
        if found is None:
            found = _readers[key] = SecretReader(*key)
        return found


def reset() -> None:
    """Forget the readers and their cached values (``shared.wiring.reset``)."""
    with _reader_lock:
        _readers.clear()
