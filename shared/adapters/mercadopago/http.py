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

A call to the base URL goes straight to the urllib3 connection pool that ``requests`` set up
for it (same proxy, CA bundle, retries and timeouts): ``requests``' per-call work around that
pool (preparing the request, merging session settings, cookies, hooks, building its response)
was about 0.7 ms of a call's CPU. urllib3's failures are turned into the exceptions
``requests`` raises for them (:func:`as_requests_error`), so what counts as "never sent" is
decided as before. The client follows no redirect: Mercado Pago's API answers none, and a 3xx
is an unknown outcome (:class:`ProviderUnavailable`), never a followed request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import requests
from mercadopago.http import HttpClient
from requests.adapters import HTTPAdapter
from urllib3 import Timeout
from urllib3 import exceptions as u3
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


def as_requests_error(exc: Exception, request: Any = None) -> Exception:
    """The exception ``requests`` (its ``HTTPAdapter.send``) raises for urllib3's ``exc``;
    any other urllib3 error is a connection failure (outcome unknown), anything else as is."""
    if isinstance(exc, u3.MaxRetryError):
        reason = exc.reason
        if isinstance(reason, u3.ConnectTimeoutError) and not isinstance(
                reason, u3.NewConnectionError):
            return requests.ConnectTimeout(exc, request=request)
        if isinstance(reason, u3.ResponseError):
            return requests.exceptions.RetryError(exc, request=request)
        if isinstance(reason, u3.ProxyError):
            return requests.exceptions.ProxyError(exc, request=request)
        if isinstance(reason, u3.SSLError):
            return requests.exceptions.SSLError(exc, request=request)
        return requests.ConnectionError(exc, request=request)
    if isinstance(exc, u3.ProtocolError | OSError | u3.ClosedPoolError):
        return requests.ConnectionError(exc, request=request)
    if isinstance(exc, u3.ProxyError):
        return requests.exceptions.ProxyError(exc)
    if isinstance(exc, u3.SSLError):
        return requests.exceptions.SSLError(exc, request=request)
    if isinstance(exc, u3.ReadTimeoutError):
        return requests.ReadTimeout(exc, request=request)
    if isinstance(exc, u3.HTTPError):
        return requests.ConnectionError(exc, request=request)
    return exc


def _encode(kwargs: Mapping[str, Any]) -> tuple[dict[str, str], bytes | None, str]:
    """Headers, body and query string of an SDK call (``headers``, ``data``/``json``,
    ``params``), encoded as ``requests`` encodes them."""
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    body: bytes | None = None
    data, payload = kwargs.get("data"), kwargs.get("json")
    if data is not None:
        body = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    elif payload is not None:
        body = json.dumps(payload, allow_nan=False).encode("utf-8")
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    params = kwargs.get("params") or {}
    pairs = [(k, v) for k, values in params.items()
             for v in (values if isinstance(values, list | tuple) else [values]) if v is not None]
    return headers, body, urlencode(pairs)


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
        self._retry = Retry(
            total=2,
            allowed_methods=frozenset({"GET"}),
            status_forcelist=(502, 503, 504),
            backoff_factor=0.1,
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size, max_retries=self._retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        # The pool requests would use for the base URL, and how a path is written on it
        # (absolute through a plain HTTP proxy, else the path alone).
        base = requests.Request("GET", self._base_url + "/").prepare()
        self._pool: Any = adapter.get_connection_with_tls_context(
            base, self._session.verify, proxies=self._session.proxies)
        adapter.cert_verify(  # type: ignore[no-untyped-call]
            self._pool, base.url, self._session.verify, None)
        self._prefix = adapter.request_url(base, self._session.proxies)[:-1]
        self._pool_timeout = Timeout(connect=self._timeout[0], read=self._timeout[1])

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
        target = self.rewrite(url)
        if not target.startswith(self._base_url + "/"):
            return self._via_session(method, target, kwargs)
        headers, body, query = _encode(kwargs)
        path = self._prefix + target[len(self._base_url):]
        if query:
            path += ("&" if "?" in path else "?") + query
        try:
            result = self._pool.urlopen(
                method, path, body=body, headers=headers, redirect=False,
                assert_same_host=False, preload_content=True, decode_content=True,
                retries=self._retry, timeout=self._pool_timeout, chunked=False)
        except Exception as exc:
            error = as_requests_error(exc)
            if isinstance(error, requests.RequestException):
                raise transport_failure(error) from exc
            raise
        if 300 <= result.status < 400 and result.headers.get("Location"):
            raise ProviderUnavailable(f"Mercado Pago answered {result.status} (a redirect)",
                                      status=result.status)
        return {"status": result.status, "response": _json(result.status, result.data)}

    def _via_session(self, method: str, url: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A URL outside the base URL (none of the SDK's today): through ``requests``."""
        kwargs["timeout"] = self._timeout
        try:
            result = self._session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise transport_failure(exc) from exc
        return {"status": result.status_code, "response": _json(result.status_code,
                                                                 result.content)}


def _json(status: int, content: bytes) -> Any:
    if status == 204 or not content:
        return None
    try:
        # Amounts stay exact: JSON numbers with a fraction become Decimal.
        return json.loads(content, parse_float=Decimal)
    except ValueError:
        return None
