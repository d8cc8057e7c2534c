"""A pooled HTTP client for the official SDK, aimed at a configurable base URL.

The SDK opens a fresh ``requests.Session`` per call (no connection reuse), has a fixed base
URL and a 60 s default timeout. This client keeps one pooled session per instance, rewrites
the base URL (production API or the local simulator), bounds every call with our timeout,
retries only idempotent GETs on 502/503/504, and turns transport failures into
:class:`~shared.adapters.mercadopago.errors.ProviderUnavailable`.

The process environment (``HTTPS_PROXY``/``NO_PROXY``, ``REQUESTS_CA_BUNDLE``) is read once,
when the client is built for its base URL: ``requests`` would otherwise walk ``os.environ``
on every call (about a third of a call's CPU), and would let a ``~/.netrc`` entry replace the
SDK's ``Authorization`` header.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import requests
from mercadopago.http import HttpClient
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util import Retry

from shared.adapters.mercadopago.errors import ProviderUnavailable

SDK_BASE_URL = "https://api.mercadopago.com"


def never_sent(exc: requests.RequestException) -> bool:
    """True only when the request certainly never left: no connection was ever made.

    requests reports a refused connection or a failed DNS lookup as a ``ConnectionError``
    wrapping urllib3's ``MaxRetryError(reason=NewConnectionError)`` (``NameResolutionError``
    is one), and a connect timeout as ``ConnectTimeout``. A reset or close after the request
    was written is a ``ConnectionError`` wrapping ``ProtocolError``: the outcome is unknown.
    """
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if not isinstance(exc, requests.ConnectionError) or isinstance(exc, requests.ReadTimeout):
        return False
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError):
        cause = cause.reason
    return isinstance(cause, NewConnectionError | ConnectTimeoutError)


def transport_failure(exc: requests.RequestException) -> ProviderUnavailable:
    if never_sent(exc):
        return ProviderUnavailable("Mercado Pago could not be reached", sent=False)
    if isinstance(exc, requests.Timeout):
        return ProviderUnavailable("Mercado Pago timed out", timeout=True)
    return ProviderUnavailable("the connection to Mercado Pago failed after sending")


class PooledHttpClient(HttpClient):  # type: ignore[misc]
    def __init__(self, base_url: str, timeout_seconds: float, pool_size: int = 16) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = (min(3.0, timeout_seconds), timeout_seconds)
        self._session = requests.Session()
        # The environment's proxies and CA bundle for this base URL, resolved once (see above).
        # requests' own reading of them (proxies, NO_PROXY, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE).
        found = self._session.merge_environment_settings(self._base_url, {}, None, None, None)
        self._session.proxies.update(found["proxies"])
        self._session.verify = found["verify"]
        self._session.trust_env = False
        retry = Retry(
            total=2,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=(502, 503, 504),
            backoff_factor=0.1,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    def rewrite(self, url: str) -> str:
        if url.startswith(SDK_BASE_URL):
            return self._base_url + url[len(SDK_BASE_URL):]
        return url

    def request(
        self,
        method: str,
        url: str,
        maxretries: Any = None,
        retry_on: Any = None,
        backoff_factor: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        kwargs["timeout"] = self._timeout
        try:
            result = self._session.request(method, self.rewrite(url), **kwargs)
        except requests.RequestException as exc:
            raise transport_failure(exc) from exc
        body: Any = None
        if result.status_code != 204 and result.content:
            try:
                # Amounts stay exact: JSON numbers with a fraction become Decimal.
                body = result.json(parse_float=Decimal)
            except ValueError:
                body = None
        return {"status": result.status_code, "response": body}
