"""The SIP client's HTTP: kept-alive HTTP/1.1 connections straight to the host, urllib3 through a proxy.

What it guarantees, whichever way a request goes:

- TLS verifies the certificate and the host name, against certifi's CA bundle, or the file or directory
  named by ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (as requests did), at TLS 1.2 or later;
- separate connect and read timeouts (``timeout`` is one number or ``(connect, read)``);
- a request is retried only when it failed before any of it was sent (name resolution, refused or
  timed-out connects): an auth code is single use, so nothing is ever sent twice;
- an idle kept-alive connection that the server closed (or that has unread bytes) is replaced before
  the request is written, never after; a forked process does not use its parent's connections;
- bodies are read under a size cap (the declared length and the bytes actually received), chunked or
  not; redirects are never followed; failures are :class:`TransportError` or :class:`BodyTooLarge`;
- proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``...) as requests would pick them;
- thread safe: each request has a connection of its own; up to ``pool_size`` idle ones are kept per host.

Direct requests, which every Civic exchange is unless a proxy is configured, use :mod:`.http11`. Measured
side by side in full exchanges against the sandbox (benchmark row 1, docs/performance.md), urllib3 cost
about 320 µs of CPU per exchange more than it, three times the exchange's cryptography; ``http.client``
and h11 about 120 µs more. Proxied requests (CONNECT tunnels, HTTPS proxies, proxy credentials) stay
with urllib3, which does that well.
"""

from __future__ import annotations

import logging
import os
import re
import select
import socket
import ssl
import threading
import time
import urllib.request
import weakref
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

import urllib3
from urllib3.exceptions import HTTPError, TimeoutError as UrllibTimeoutError

from . import http11

# What urllib3 logged for these requests before: connections opened and each answer's status, never a
# path (an S3 payload's URL carries a credential in its query, a user's id in its path).
logger = logging.getLogger("django_civic.sip.http")

_CONNECT_RETRIES = 2
_BACKOFF = 0.05  # seconds before the first connect retry, doubled for the next
_CHUNK = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}
_PREPARED_URLS = 16
_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")  # a name, an IPv4 or an IPv6 address
# Sent with every request, as urllib3 did: we decode gzip and deflate, but never ask for them.
_FIXED_HEADERS = {"User-Agent": "django-civic", "Accept-Encoding": "identity"}


class TransportError(Exception):
    """The request failed before an answer was read; ``timeout`` says whether time ran out."""

    def __init__(self, kind: str, *, timeout: bool) -> None:
        super().__init__(kind)
        self.kind = kind
        self.timeout = timeout


class BodyTooLarge(Exception):
    pass


class Response(Protocol):
    """An answer whose body has not been read yet. Read it with :meth:`read` or drop it with :meth:`close`."""

    status: int

    def header(self, name: str) -> str | None: ...

    def read(self, limit: int) -> bytearray:
        """The whole body, refusing more than ``limit`` bytes (the header may lie or be absent).

        Raises :class:`BodyTooLarge` or :class:`TransportError`; the connection is dropped then.
        """

    def close(self) -> None:
        """Drop the connection: unread data must never reach the next request."""


class Transport:
    """Connections for one client. Thread-safe; nothing is opened before the first request."""

    def __init__(self, *, pool_size: int, timeout: float | tuple[float, float],
                 connect_retries: int = _CONNECT_RETRIES) -> None:
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        self.connect_timeout, self.read_timeout = connect, read
        self.pool_size = pool_size
        self.connect_retries = connect_retries
        self._routes: dict[tuple[str, str, int], _Origin | urllib3.ProxyManager] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._prepared: dict[str, tuple[_Origin | urllib3.ProxyManager, str]] = {}
        _transports.add(self)

    def request(self, method: str, url: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Response:
        """Send a request and return the answer with its body unread; redirects are never followed."""
        prepared = self._prepared.get(url)
        if prepared is None:
            prepared = self._prepare(url)
        route, target = prepared
        if isinstance(route, _Origin):
            fields = {**_FIXED_HEADERS, **headers} if headers else _FIXED_HEADERS
            return route.request(method, target, body, fields)
        try:
            raw = route.request(method, url, body=body, headers={**_FIXED_HEADERS, **(headers or {})},
                                redirect=False, preload_content=False)
        except (HTTPError, OSError) as exc:
            raise _urllib3_failure(exc) from None
        return _ProxiedResponse(raw)

    def _prepare(self, url: str) -> tuple[_Origin | urllib3.ProxyManager, str]:
        """Where ``url`` goes and its request target. Kept for the URLs a client calls again (its exchange
        URL), not for URLs with a query: an S3 payload's URL is used once and carries a credential."""
        parts = urlsplit(url)
        prepared = self._route(parts), (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not parts.query and len(self._prepared) < _PREPARED_URLS:
            self._prepared[url] = prepared
        return prepared

    def _route(self, parts: SplitResult) -> _Origin | urllib3.ProxyManager:
        try:
            scheme, host = parts.scheme, parts.hostname or ""
            key = (scheme, host, parts.port or _DEFAULT_PORTS[scheme])
        except (KeyError, ValueError):  # another scheme, or a port that is not a number
            raise TransportError("InvalidURL", timeout=False) from None
        route = self._routes.get(key)
        if route is None:
            with self._lock:
                route = self._routes.get(key)
                if route is None:
                    route = self._new_route(*key)
                    self._routes[key] = route
        return route

    def _new_route(self, scheme: str, host: str, port: int) -> _Origin | urllib3.ProxyManager:
        try:  # the name as it goes into DNS, TLS (SNI) and the Host field: ASCII, IDNA-encoded if need be
            host = host if host.isascii() else host.encode("idna").decode("ascii")
        except UnicodeError:
            raise TransportError("InvalidURL", timeout=False) from None
        if not _HOST.fullmatch(host):
            raise TransportError("InvalidURL", timeout=False)
        proxy = _environment_proxy(scheme, host)
        if proxy:
            retries = urllib3.Retry(total=None, connect=self.connect_retries, read=0, redirect=0, status=0,
                                    other=0, allowed_methods=None, backoff_factor=_BACKOFF,
                                    raise_on_status=False)
            bundle = _ca_bundle()
            where = {"ca_cert_dir": bundle} if bundle and os.path.isdir(bundle) else {"ca_certs": bundle}
            return urllib3.ProxyManager(
                proxy, num_pools=4, maxsize=self.pool_size, retries=retries, **where,
                timeout=urllib3.Timeout(connect=self.connect_timeout, read=self.read_timeout))
        return _Origin(self, scheme, host, port)

    def tls_context(self) -> ssl.SSLContext:
        """Created on first use (loading the CA bundle takes milliseconds), then shared."""
        if self._tls is None:
            with self._lock:
                if self._tls is None:
                    self._tls = _tls_context()
        return self._tls

    def after_fork(self) -> None:
        """In a child process, where only the forking thread survives: fresh locks (another thread may
        have held ours), and none of the parent's connections (two processes reading one TCP stream
        would read each other's answers)."""
        self._lock = threading.Lock()
        routes, self._routes, self._prepared = self._routes, {}, {}
        for route in routes.values():
            if isinstance(route, _Origin):
                route.drop_inherited()

    def close(self) -> None:
        with self._lock:
            routes, self._routes, self._prepared = list(self._routes.values()), {}, {}
        for route in routes:
            if isinstance(route, _Origin):
                route.close()
            else:
                route.clear()


class _Origin:
    """Kept-alive connections to one ``scheme://host:port``: the idle ones, last used first."""

    def __init__(self, transport: Transport, scheme: str, host: str, port: int) -> None:
        self._transport = transport
        self._tls = scheme == "https"
        self._host = host
        self._port = port
        name = f"[{host}]" if ":" in host else host  # an IPv6 address
        self._host_field = name if port == _DEFAULT_PORTS[scheme] else f"{name}:{port}"
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()

    def request(self, method: str, target: str, body: bytes | None, headers: dict[str, str]) -> Response:
        try:
            data = http11.request_bytes(method, target, self._host_field, headers, body)
        except ValueError:
            raise TransportError("InvalidRequest", timeout=False) from None
        sock = self._idle_socket() or self._connect()
        # From here on the request may reach the server: whatever fails is reported, never retried.
        try:
            sock.sendall(data)
            response = http11.Response(sock, self._release, has_body=method != "HEAD")
        except (http11.ProtocolError, OSError) as exc:
            sock.close()
            raise _failure(exc) from None
        logger.debug("%s %s: %d", method, self._host_field, response.status)
        return _DirectResponse(response)

    def _idle_socket(self) -> socket.socket | None:
        while True:
            with self._lock:
                if not self._idle:
                    return None
                sock = self._idle.pop()
            if _still_idle(sock):
                return sock
            sock.close()

    def _release(self, sock: socket.socket) -> None:
        with self._lock:
            if len(self._idle) < self._transport.pool_size:
                self._idle.append(sock)
                return
        sock.close()

    def _connect(self) -> socket.socket:
        transport = self._transport
        tls = transport.tls_context() if self._tls else None
        for attempt in range(transport.connect_retries + 1):
            try:
                sock = socket.create_connection((self._host, self._port), timeout=transport.connect_timeout)
                break
            except OSError as exc:  # nothing was sent: safe to try again
                if attempt == transport.connect_retries:
                    raise _failure(exc, connecting=True) from None
                time.sleep(_BACKOFF * 2 ** attempt)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # requests leave in one segment
            if tls is not None:  # the handshake runs under the connect timeout
                sock = tls.wrap_socket(sock, server_hostname=self._host)
            sock.settimeout(transport.read_timeout)
            logger.debug("connection opened to %s", self._host_field)
        except OSError as exc:  # includes ssl.SSLError: a certificate that fails now will fail again
            sock.close()
            raise _failure(exc, connecting=True) from None
        return sock

    def drop_inherited(self) -> None:
        """After a fork, in the child: close its copies of the descriptors (the parent's stay open)."""
        idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


class _DirectResponse:
    __slots__ = ("_response", "status")

    def __init__(self, response: http11.Response) -> None:
        self._response = response
        self.status = response.status

    def header(self, name: str) -> str | None:
        return self._response.header(name)

    def read(self, limit: int) -> bytearray:
        try:
            return self._response.read(limit)
        except http11.TooLarge:
            raise BodyTooLarge() from None
        except (http11.ProtocolError, OSError) as exc:
            raise _failure(exc) from None

    def close(self) -> None:
        self._response.close()


def _still_idle(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection can carry a request: nothing may have arrived on it since
    its last answer (what arrives is the server's close, or bytes that belong to no request of ours)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return False
    if _poll is None:  # no poll() (Windows): select() is fine there, it has no descriptor limit
        return not select.select([sock], [], [], 0)[0]
    poller = _poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


_poll = getattr(select, "poll", None)


def _after_fork_in_child() -> None:
    for transport in list(_transports):
        transport.after_fork()


_transports: weakref.WeakSet[Transport] = weakref.WeakSet()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _failure(exc: BaseException, *, connecting: bool = False) -> TransportError:
    if isinstance(exc, http11.ProtocolError):
        return TransportError(exc.kind, timeout=False)
    if isinstance(exc, TimeoutError):
        return TransportError("ConnectTimeoutError" if connecting else "ReadTimeoutError", timeout=True)
    if isinstance(exc, socket.gaierror):
        return TransportError("NameResolutionError", timeout=False)
    return TransportError(type(exc).__name__, timeout=False)


def _tls_context() -> ssl.SSLContext:
    bundle = _ca_bundle()
    try:
        if bundle and os.path.isdir(bundle):
            context = ssl.create_default_context(capath=bundle)
        else:
            context = ssl.create_default_context(cafile=bundle)
    except OSError as exc:  # a missing or unreadable bundle: every HTTPS request fails the same way
        raise TransportError(f"CABundleError: {type(exc).__name__}", timeout=False) from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def _ca_bundle() -> str | None:
    configured = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if configured:
        return configured
    try:
        import certifi
    except ImportError:  # fall back to the system's trust store
        return None
    return certifi.where()


def _environment_proxy(scheme: str, host: str) -> str | None:
    """The proxy the environment sets for ``scheme://host`` (as requests would pick it), or None."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme) or proxies.get("all")
    if not proxy or (host and urllib.request.proxy_bypass(host)):
        return None
    return proxy


# -- through a proxy: urllib3 ------------------------------------------------------------------------


def _urllib3_failure(exc: BaseException) -> TransportError:
    reason = getattr(exc, "reason", None)  # MaxRetryError wraps the last connect failure
    timeout = isinstance(exc, UrllibTimeoutError) or isinstance(reason, UrllibTimeoutError)
    return TransportError(type(reason or exc).__name__, timeout=timeout)


class _ProxiedResponse:
    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self.status = raw.status

    def header(self, name: str) -> str | None:
        return self._raw.headers.get(name)

    def read(self, limit: int) -> bytearray:
        completed = False
        try:
            try:
                declared = int(self.header("Content-Length") or 0)
            except ValueError:  # an unparsable length is ignored; the loop below still caps
                declared = 0
            if declared > limit:
                raise BodyTooLarge()
            body = bytearray(declared)  # a declared length is read into one buffer of that size
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
            raise _urllib3_failure(exc) from None
        finally:
            if completed:
                self._raw.release_conn()
            else:
                self.close()

    def close(self) -> None:
        self._raw.close()
        self._raw.release_conn()
