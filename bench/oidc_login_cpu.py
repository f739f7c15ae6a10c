"""Row 1: server CPU per complete Civic Auth login, against mozilla-django-oidc and django-allauth.

Three libraries in one Django site (``bench.settings`` with ``CIVIC_BENCH_PEERS=1``), each logging a
returning user in against the sandbox's OIDC provider (another process) with the authorization code
flow, as a browser drives it: the start (django_civic: ``POST /civic/auth/login/``; mozilla-django-oidc:
``GET /oidc/authenticate/``; allauth's ``openid_connect`` provider: ``POST /accounts/oidc/civic/login/``),
the provider's login page (the browser's part: the sandbox's persona form, not counted), and the callback
(code exchange, ID token, userinfo, user lookup, session login). Each login is a fresh browser calling the
site's WSGI application in this process; the server CPU counted is this process's during the
application's handling of the start and the callback (``Browser.server_cpu``: not the browser's own
work of building requests and keeping cookies). Each library logs in its own person (alice, bob,
carol: the same claims, and no library finds another's user by email).

Measured: django_civic's median CPU per login. Reference: the cheaper of the two peers (median), the
ratio the median of the per-round ratios against it. Target: at most 0.9x. The details give the queries
and provider calls per login of all three.
"""

from __future__ import annotations

import gc
import os
import statistics
from collections.abc import Callable

from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes
from .measure import against, interleaved
from .results import RowResult, Target

KEY = "oidc_login_cpu"
TITLE = "Server CPU per Civic Auth login (start, provider, callback, session), returning user"
TARGET = Target("<=", 0.9, "at most 0.9x the cheaper peer")
PEERS = ("mozilla-django-oidc", "django-allauth")

# library: (start method, start path, form, persona)
FLOWS = {
    "django_civic": ("POST", "/civic/auth/login/", {"next": "/"}, "alice"),
    "mozilla-django-oidc": ("GET", "/oidc/authenticate/?next=/", None, "bob"),
    "django-allauth": ("POST", "/accounts/oidc/civic/login/", {"next": "/"}, "carol"),
}


def start_site(sandbox_url: str) -> None:
    os.environ["CIVIC_BENCH_PEERS"] = "1"
    from . import site

    site.start(sandbox_url)


def login_flow(handle: SandboxHandle, library: str) -> Callable[[], float]:
    """One complete login of ``library``'s person in a fresh browser; returns the server's CPU seconds."""
    from .site import Browser

    method, path, form, persona = FLOWS[library]
    from django.core.handlers.wsgi import WSGIHandler

    application = WSGIHandler()

    def login() -> float:
        browser = Browser(application)
        status, headers, body = browser.request(method, path, form)
        if status != 302 or not headers["location"].startswith(handle.oidc_issuer):
            raise RuntimeError(f"{library}: the login did not start: {status} {body[:300]!r}")
        back = handle.oidc_approve(headers["location"], persona)["redirect"]
        status, headers, body = browser.request("GET", back)
        if status != 302 or headers.get("location") != "/":
            where = headers.get("location")
            raise RuntimeError(f"{library}: the callback failed: {status} {where} {body[:300]!r}")
        return browser.server_cpu

    return login


def run(options: Options) -> RowResult:
    rounds = options.pick(30, 2)
    batch = options.pick(4, 1)
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        start_site(handle.url)

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        logins = {library: login_flow(handle, library) for library in FLOWS}
        for login in logins.values():  # the first login signs up; then warm every path
            for _ in range(3):
                login()

        # Queries and provider calls per returning login (counted apart from the timed rounds: capturing
        # queries costs CPU of its own).
        counted = options.pick(5, 1)
        queries: dict[str, float] = {}
        provider_calls: dict[str, dict[str, float]] = {}
        for library, login in logins.items():
            handle.clear_oidc_stats()
            with CaptureQueriesContext(connection) as captured:
                for _ in range(counted):
                    login()
            queries[library] = round(len(captured.captured_queries) / counted, 1)
            stats = handle.oidc_stats()
            stats.pop("authorize", None)  # the browser's visit to the login page, not the server's call
            # "token:code" repeats "token" by grant type.
            provider_calls[library] = {
                k: round(v / counted, 2) for k, v in sorted(stats.items()) if v and ":" not in k
            }

        def timed(login: Callable[[], float]) -> Callable[[], float]:
            def one_batch() -> float:
                gc.collect()
                return sum(login() for _ in range(batch)) / batch

            return one_batch

        log(f"{KEY}: {rounds} rounds of {batch} logins per library, order rotating")
        costs = interleaved({library: timed(login) for library, login in logins.items()}, rounds)

    medians = {library: statistics.median(values) for library, values in costs.items()}
    cheaper = min(PEERS, key=lambda peer: medians[peer])
    result = against(costs, "django_civic", cheaper)
    return RowResult.cpu_side_by_side(
        KEY,
        TITLE,
        result,
        unit="ms",
        target=TARGET,
        details={
            "reference": cheaper,
            "cpu_ms_per_login": {library: round(value * 1e3, 3) for library, value in medians.items()},
            "ratio_vs": {
                peer: round(against(costs, "django_civic", peer).ratio, 3) for peer in PEERS
            },
            "queries_per_login": queries,
            "provider_calls_per_login": provider_calls,
            "persona": {library: flow[3] for library, flow in FLOWS.items()},
            "sessions": "cache (locmem); SQLite in memory",
        },
    )
