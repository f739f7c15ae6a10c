"""The SIP client's HTTP: urllib3 connection pools, bodies read under a size cap.

urllib3 rather than requests (requests is built on it, so this adds no dependency): measured with
``make bench`` (docs/performance.md), requests spent about 1 ms of CPU per exchange above urllib3 on
merging session settings and scanning the environment for proxies and ``.netrc`` on every call, which
was half of a whole SIP login. What requests did implicitly is done here once per host: proxies from
the environment (``HTTPS_PROXY``, ``NO_PROXY``...) and the CA bundle (certifi's, or
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` when set), so a deployment behaves as before.
"""

from __future__ import annotations

import os
import threading
import urllib.request
from typing import Any
from urllib.parse import SplitResult, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, TimeoutError as UrllibTimeoutError

_CHUNK = 64 * 1024


class TransportError(Exception):
    """The request failed before an answer was read; ``timeout`` says whether time ran out."""

    def __init__(self, kind: str, *, timeout: bool) -> None:
        super().__init__(kind)
        self.kind = kind
        self.timeout = timeout


class BodyTooLarge(Exception):
    pass


def _timeout(value: float | tuple[float, float]) -> urllib3.Timeout:
    connect, read = value if isinstance(value, tuple) else (value, value)
    return urllib3.Timeout(connect=connect, read=read)


def _ca_bundle() -> str | None:
    configured = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if configured:
        return configured
    try:
        import certifi
    except ImportError:  # fall back to the system's trust store
        return None
    return certifi.where()


def _failure(exc: BaseException) -> TransportError:
    reason = getattr(exc, "reason", None)  # MaxRetryError wraps the last connect failure
    timeout = isinstance(exc, UrllibTimeoutError) or isinstance(reason, UrllibTimeoutError)
    return TransportError(type(reason or exc).__name__, timeout=timeout)


class Response:
    """An answer whose body has not been read yet. Read it with :meth:`read` or drop it with :meth:`close`."""

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self.status = raw.status

    def header(self, name: str) -> str | None:
        return self._raw.headers.get(name)

    def read(self, limit: int) -> bytearray:
        """The whole body, refusing more than ``limit`` bytes (the header may lie or be absent).

        Raises :class:`BodyTooLarge` or :class:`TransportError`. A declared length is read into one
        buffer of that size: a 6 MB payload is held once, not as chunks plus their join.
        """
        completed = False
        try:
            try:
                declared = int(self.header("Content-Length") or 0)
            except ValueError:  # an unparsable length is ignored; the loop below still caps
                declared = 0
            if declared > limit:
                raise BodyTooLarge()
            body = bytearray(declared)
            size = 0
            while True:
                chunk = self._raw.read(_CHUNK)
                if not chunk:
                    break
                if size + len(chunk) > limit:
                    raise BodyTooLarge()
                body[size:size + len(chunk)] = chunk
                size += len(chunk)
            del body[size:]
            completed = True
            return body
        except (HTTPError, OSError) as exc:
            raise _failure(exc) from None
        finally:
            if completed:
                self._raw.release_conn()
            else:
                self.close()

    def close(self) -> None:
        # Closing (not releasing) drops the connection: unread data must never reach the next request.
        self._raw.close()
        self._raw.release_conn()


class Transport:
    """Thread-safe: urllib3's pools are; the per-host pool managers are created under a lock."""

    def __init__(self, *, pool_size: int, timeout: float | tuple[float, float],
                 retries: urllib3.Retry) -> None:
        self._options: dict[str, Any] = {
            "num_pools": 4, "maxsize": pool_size, "retries": retries, "timeout": _timeout(timeout),
            "ca_certs": _ca_bundle(),
        }
        self._direct = urllib3.PoolManager(**self._options)
        self._managers: dict[tuple[str, str], urllib3.PoolManager] = {}
        self._lock = threading.Lock()

    def _manager(self, parts: SplitResult) -> urllib3.PoolManager:
        key = (parts.scheme, parts.hostname or "")
        manager = self._managers.get(key)
        if manager is None:
            with self._lock:
                manager = self._managers.get(key)
                if manager is None:
                    proxy = _environment_proxy(*key)
                    manager = urllib3.ProxyManager(proxy, **self._options) if proxy else self._direct
                    self._managers[key] = manager
        return manager

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        """Send a request and return the answer with its body unread; redirects are never followed."""
        parts = urlsplit(url)
        manager = self._manager(parts)
        try:
            if manager is self._direct:
                # Straight to the host's pool: PoolManager.request would parse the URL twice more and
                # re-encode the body arguments (measured: 4% of the client's CPU per exchange).
                target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                raw = manager.connection_from_url(url).urlopen(
                    method, target, body=body, headers=headers, redirect=False, preload_content=False,
                    assert_same_host=False)
            else:
                raw = manager.request(method, url, body=body, headers=headers, redirect=False,
                                      preload_content=False)
        except (HTTPError, OSError) as exc:
            raise _failure(exc) from None
        return Response(raw)

    def close(self) -> None:
        self._direct.clear()
        for manager in self._managers.values():
            manager.clear()


def _environment_proxy(scheme: str, host: str) -> str | None:
    """The proxy the environment sets for ``scheme://host`` (as requests would pick it), or None."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or (host and urllib.request.proxy_bypass(host)):
        return None
    return proxy
