"""The benchmark site in this process: Django set up against a sandbox in another process.

Rows 2, 4 and 5 run the real request path in-process with Django's test client (middleware, DRF view,
backend, SIP client, identities service, session login), so ``process_time`` of this process is the
server's CPU while the sandbox's CPU stays in its own process.
"""

from __future__ import annotations

import io
import json
from typing import Any

from . import django_env
from .measure import cpu_seconds

EXCHANGE_URL = "/civic/sip/exchange/"


def start(sandbox_url: str, *, database: str = "sqlite", cache: str = "locmem") -> None:
    django_env.setup(database=database, sandbox_url=sandbox_url, cache=cache)


def civic_login(client: Any, code: str) -> dict[str, Any]:
    """POST an auth code to the exchange endpoint as ``civic.sip.js`` would; the login must succeed."""
    response = client.post(EXCHANGE_URL, data=json.dumps({"token": code}), content_type="application/json")
    if response.status_code != 200:
        raise RuntimeError(f"the Civic login failed: {response.status_code} {response.content[:300]!r}")
    return response.json()


# A CSRF secret as Django's cookie carries it; the header repeats it (what a browser page sends).
CSRF_SECRET = "c" * 32


class WSGICaller:
    """Calls the site's WSGI application directly, as a server would: no test client in between, so the
    CPU measured is the site's own. Each call is a fresh browser (CSRF cookie, no session)."""

    def __init__(self) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.application = WSGIHandler()

    def post_json(self, path: str, data: dict[str, Any]) -> tuple[str, bytes]:
        body = json.dumps(data).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1:8000",
            "HTTP_COOKIE": f"csrftoken={CSRF_SECRET}",
            "HTTP_X_CSRFTOKEN": CSRF_SECRET,
        }
        status: list[str] = []
        chunks = self.application(environ, lambda line, headers, exc_info=None: status.append(line))
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
        return status[0], content

    def civic_login(self, code: str) -> dict[str, Any]:
        status, content = self.post_json(EXCHANGE_URL, {"token": code})
        if not status.startswith("200"):
            raise RuntimeError(f"the Civic login failed: {status} {content[:300]!r}")
        return json.loads(content)


class Browser:
    """A browser calling the site's WSGI application directly (no test client in between): cookies kept
    in a jar, as ``http://localhost/`` (the sandbox's default OIDC client accepts any redirect URI on
    localhost), with a CSRF cookie and header on every POST as a page of the site would send them.

    ``server_cpu`` adds up the CPU seconds of the application's calls only (the response and its body
    produced): building the request and parsing the cookies it sets are the browser's work, not the
    server's."""

    def __init__(self, application: Any = None) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.application = application or WSGIHandler()
        self.cookies: dict[str, str] = {"csrftoken": CSRF_SECRET}
        self.server_cpu = 0.0

    def request(
        self, method: str, url: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """``method`` ``url`` (a path with its query, or an absolute URL on this site); returns the status,
        the headers (the last of each name) and the body."""
        from http.cookies import SimpleCookie
        from urllib.parse import urlencode, urlsplit

        parts = urlsplit(url)
        body = urlencode(form or {}).encode()
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "localhost",
            "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
        }
        if method == "POST":
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["HTTP_X_CSRFTOKEN"] = CSRF_SECRET
        answer: list[Any] = []
        began = cpu_seconds()
        chunks = self.application(
            environ, lambda line, headers, exc_info=None: answer.extend([line, headers])
        )
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
            self.server_cpu += cpu_seconds() - began
        headers: dict[str, str] = {}
        for name, value in answer[1]:
            if name.lower() == "set-cookie":
                for morsel in SimpleCookie(value).values():
                    if morsel.value and morsel["max-age"] != "0":
                        self.cookies[morsel.key] = morsel.value
                    else:
                        self.cookies.pop(morsel.key, None)
            headers[name.lower()] = value
        return int(answer[0].split()[0]), headers, content
