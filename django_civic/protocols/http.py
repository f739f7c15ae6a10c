"""The one place that makes the ``requests.Session`` every outgoing call of django_civic goes through.

Each protocol client (SIP, Civic Auth and its hub, IDEMIA) gets its session here and keeps its own error
mapping. What a session from :func:`new_session`, used through :func:`send`, guarantees:

- separate connect and read timeouts: ``timeout`` is required on every call (one number or
  ``(connect, read)``);
- a request is retried only when none of it was sent (DNS, refused or timed-out connects); never after a
  read error, a status or a redirect, because an auth code, a refresh token, a new IDEMIA session or a
  proof download must never be sent twice. Redirects are never followed;
- TLS verification, proxies and ``NO_PROXY`` as requests does them (certifi's bundle, or
  ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``; ``HTTPS_PROXY``, ``NO_PROXY`` with names or CIDR ranges),
  read from the environment when the session is made (the bundle) or first calls an origin (its proxy),
  not on every call; ``~/.netrc`` is never read, so nothing can replace the credentials a client sends;
- bodies stay unread until :func:`read_capped` reads them under a size cap.

Never imports Django.
"""

from __future__ import annotations

import logging
import math
import os
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.exceptions import InvalidHeader
from urllib3.util import Retry

# One line per answer at DEBUG: method, host and status. Never the path or the query: a presigned S3
# URL carries a credential in its query, a GIPS URL a person's identity id in its path.
logger = logging.getLogger(__name__)

CONNECT_RETRIES = 2
_BACKOFF = 0.05  # seconds, doubled for each further connect retry (urllib3 waits none before the first)
_CHUNK = 64 * 1024
# Used only for its Retry-After parser.
_RETRY_AFTER = Retry(0)


class BodyTooLarge(Exception):
    """The body is larger than the caller's limit."""


class Session(requests.Session):
    """requests' session for calls made on behalf of many users, configured once instead of per call.

    - The environment is read once: with ``trust_env`` requests looks through ``os.environ`` twice per
      request for a proxy, a tenth of the CPU of a Civic Auth login (docs/performance.md, row 1). This
      session applies the same rules, requests' own ``get_environ_proxies`` with ``NO_PROXY``, once per
      origin, and reads the CA bundle variables once.
    - ``~/.netrc`` is never read (``trust_env`` off): requests would let an entry there replace the
      ``Authorization`` header a client sets (its client secret, a bearer token).
    - No cookies: one process's session carries every user's calls, so a cookie set during one user's
      code exchange must not go out with the next user's.
    - :meth:`call` sends requests' prepared request itself (``Request(...).prepare()``, then
      ``Session.send``), skipping what ``Session.request`` merges in on every call (cookie jar, auth,
      params, environment), which this session never sets: a sixth of a call's CPU.
    """

    _MAX_ORIGINS = 64  # a client talks to a handful; the bound is for payload URLs from upstream

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self._origin_proxies: dict[str, dict[str, str]] = {}

    def call(self, method: str, url: str, *, timeout: float | tuple[float, float],
             headers: dict[str, str] | None = None, **fields: Any) -> requests.Response:
        """One call, redirects not followed, body unread (see :func:`send`). ``fields`` are
        ``requests.Request``'s (``data``, ``json``, ``params``, ``auth``...)."""
        merged = self.headers.copy()  # case-insensitive: a caller's "accept" replaces our "Accept"
        merged.update(headers or {})
        for name in [name for name, value in merged.items() if value is None]:
            del merged[name]  # None removes a default header, as in Session.request
        settings = {"proxies": fields.pop("proxies", None) or self.proxies_for(url),
                    "verify": fields.pop("verify", self.verify), "cert": fields.pop("cert", self.cert)}
        prepared = requests.Request(method, url, headers=merged, hooks=self.hooks, **fields).prepare()
        return self.send(prepared, timeout=timeout, allow_redirects=False, stream=True, **settings)

    def proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for ``url`` (none when ``NO_PROXY`` covers its host)."""
        scheme, netloc = urlsplit(url)[:2]
        origin = f"{scheme}://{netloc}"
        proxies = self._origin_proxies.get(origin)
        if proxies is None:
            if len(self._origin_proxies) >= self._MAX_ORIGINS:
                self._origin_proxies.clear()
            proxies = self._origin_proxies[origin] = get_environ_proxies(url)
        return proxies


def new_session(pool_size: int = 10) -> Session:
    """A session with up to ``pool_size`` kept-alive connections per host and connect-only retries.

    Use it through :func:`send`: its proxies come from :meth:`Session.proxies_for`, which ``session.get()``
    and the like do not consult. The environment's proxies and CA bundle are read once, for the life of
    the session (a worker process's)."""
    session = Session()
    retry = Retry(total=None, connect=CONNECT_RETRIES, read=False, redirect=0, status=0, other=0,
                  allowed_methods=None, backoff_factor=_BACKOFF, raise_on_status=False)
    # read=False re-raises a read error as itself (a read timeout stays requests.ReadTimeout); read=0 would
    # wrap it in a generic ConnectionError.
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.hooks["response"].append(_log_answer)
    return session


class ProcessSession:
    """A client's session, made on first use in each process.

    A forked worker (gunicorn ``--preload``, multiprocessing) makes its own: two processes sharing one
    pooled connection would read each other's answers. No lock: two threads racing on the first call may
    each make one, and the loser's is simply dropped. A session passed in is used as it is.
    """

    def __init__(self, pool_size: int = 10, *, session: requests.Session | None = None) -> None:
        self._pool_size = pool_size
        # (pid, session) in one attribute, so that a thread never sees one without the other.
        self._current = (os.getpid(), session) if session is not None else None
        self._given = session is not None

    def get(self) -> requests.Session:
        current = self._current
        if current is None or (current[0] != os.getpid() and not self._given):
            current = self._current = (os.getpid(), new_session(self._pool_size))
        return current[1]

    def close(self) -> None:
        """Close this process's connections (the client still works: it reconnects when used)."""
        current = self._current
        if current is not None and current[0] == os.getpid():
            current[1].close()


def send(session: requests.Session, method: str, url: str, *, timeout: float | tuple[float, float],
         **kwargs: Any) -> requests.Response:
    """Send a request and return the answer with its body unread. Raises what requests raises: a
    subclass of ``requests.RequestException`` (``requests.Timeout`` when time ran out), or ``OSError``
    for a CA bundle that cannot be read; callers map both to their own errors."""
    if isinstance(session, Session):
        return session.call(method, url, timeout=timeout, **kwargs)
    return session.request(method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs)


def read_capped(response: requests.Response, limit: int) -> bytes:
    """The body of a streamed ``response`` (decoded if it came gzip- or deflate-encoded), refusing more
    than ``limit`` bytes: ``Content-Length`` may lie or be absent, so the bytes received are counted too,
    and no more than ``limit`` plus one chunk is ever read. Raises :class:`BodyTooLarge`, or what requests
    raises while reading. The response is closed in every case."""
    try:
        try:
            declared = int(response.headers.get("Content-Length", ""))
        except ValueError:  # absent or unparsable (or too many digits): the count below still caps
            declared = 0
        if declared > limit:
            raise BodyTooLarge()
        chunks, size = [], 0
        for chunk in response.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge()
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        response.close()


def retry_after(value: str | None) -> int | None:
    """``Retry-After`` in whole seconds, rounded up: delta-seconds or an HTTP-date (RFC 9110 10.2.3), as
    urllib3 parses it. None when absent or unparsable; a date in the past is 0."""
    if value is None:
        return None
    try:
        return math.ceil(_RETRY_AFTER.parse_retry_after(value))
    except (InvalidHeader, ValueError, OverflowError):  # ValueError: more digits than int() converts
        return None


def _log_answer(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        request = response.request
        where = urlsplit(response.url)
        host = f"[{where.hostname}]" if where.hostname and ":" in where.hostname else where.hostname
        port = f":{where.port}" if where.port else ""
        logger.debug("%s %s%s: %d", request.method, host, port, response.status_code)
