"""Row 2: per-request cost of a DRF request authenticated with a Civic access token, keys cached.

Four DRF authentication classes in one site (``bench.settings`` with ``CIVIC_BENCH_PEERS=1``), each
called as DRF calls it, ``authenticate(request)``, on a request carrying its kind of bearer token:

- django_civic's ``CivicAccessTokenAuthentication``, a Civic access token from the sandbox's provider (in
  another process), once its discovery document and JWKS are cached;
- simplejwt's ``JWTAuthentication`` (signature, claims, then the user from the database) and
  ``JWTStatelessUserAuthentication`` (the same local check, no database: the bare local check), with
  simplejwt's own access token;
- mozilla-django-oidc's ``OIDCAuthentication``, with a Civic access token: it asks the provider's userinfo
  endpoint on every request, so its CPU and its wall time are both reported.

Measured: django_civic's CPU per request; reference: simplejwt's stateless check, side by side (rounds
rotating over the four). Target: at most 1.1x, and zero network calls and zero queries in steady state
(the provider's request counters and the queries are counted over the measured requests).
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable

from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes, site
from .measure import against, cpu_seconds, interleaved
from .results import RowResult, Target

KEY = "bearer_auth"
TITLE = "DRF request authenticated with a Civic access token (keys cached)"
TARGET = Target("<=", 1.1, "at most 1.1x, 0 network calls, 0 queries")
OURS = "django_civic"
STATELESS = "simplejwt stateless"


def run(options: Options) -> RowResult:
    rounds = options.pick(30, 3)
    batch = options.pick(100, 5)
    peer_batch = options.pick(10, 2)  # mozilla-django-oidc's requests each go to the provider
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        os.environ["CIVIC_BENCH_PEERS"] = "1"
        site.start(handle.url)

        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test.utils import CaptureQueriesContext
        from mozilla_django_oidc.contrib.drf import OIDCAuthentication
        from rest_framework.request import Request
        from rest_framework.test import APIRequestFactory
        from rest_framework_simplejwt.authentication import (
            JWTAuthentication,
            JWTStatelessUserAuthentication,
        )
        from rest_framework_simplejwt.tokens import AccessToken

        from django_civic.civic_auth.authentication import CivicAccessTokenAuthentication
        from django_civic.models import CivicIdentity

        users = get_user_model().objects
        civic_user = users.create_user("civic-person")
        CivicIdentity.objects.create(
            user=civic_user, provider=handle.oidc_issuer, subject=handle.oidc_subject("alice")
        )
        jwt_user = users.create_user("simplejwt-person")
        # mozilla-django-oidc finds its user by the userinfo email (bob's; the first request creates it).
        factory = APIRequestFactory()

        def bearer(token: str) -> Request:
            return Request(factory.get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {token}"))

        civic_request = bearer(handle.mint_oidc_token(type="access", persona="alice"))
        jwt_request = bearer(str(AccessToken.for_user(jwt_user)))
        mozilla_request = bearer(handle.mint_oidc_token(type="access", persona="bob"))

        def check(authentication: object, request: Request, user_id: int | None) -> Callable[[], None]:
            def authenticate() -> None:
                user, _ = authentication.authenticate(request)  # type: ignore[attr-defined]
                assert user_id is None or user.pk == user_id, "authenticated the wrong user"

            return authenticate

        classes = {
            OURS: check(CivicAccessTokenAuthentication(), civic_request, civic_user.pk),
            "simplejwt JWTAuthentication": check(JWTAuthentication(), jwt_request, jwt_user.pk),
            STATELESS: check(JWTStatelessUserAuthentication(), jwt_request, None),
            "mozilla-django-oidc": check(OIDCAuthentication(), mozilla_request, None),
        }
        for authenticate in classes.values():  # first requests: discovery, JWKS, mozilla's user
            authenticate()

        # Steady state: what reaches the provider and the database, per request, counted apart.
        counted = options.pick(20, 2)
        network: dict[str, float] = {}
        queries: dict[str, float] = {}
        for name, authenticate in classes.items():
            handle.clear_oidc_stats()
            with CaptureQueriesContext(connection) as captured:
                for _ in range(counted):
                    authenticate()
            network[name] = sum(handle.oidc_stats().values()) / counted
            queries[name] = len(captured.captured_queries) / counted

        wall: dict[str, list[float]] = {name: [] for name in classes}

        def timed(name: str, authenticate: Callable[[], None]) -> Callable[[], float]:
            count = peer_batch if name == "mozilla-django-oidc" else batch

            def one_batch() -> float:
                gc.collect()
                began, began_cpu = time.perf_counter(), cpu_seconds()
                for _ in range(count):
                    authenticate()
                wall[name].append((time.perf_counter() - began) / count)
                return (cpu_seconds() - began_cpu) / count

            return one_batch

        log(f"{KEY}: {rounds} rounds of {batch} requests per class ({peer_batch} for mozilla-django-oidc)")
        costs = interleaved({name: timed(name, fn) for name, fn in classes.items()}, rounds)

    result = against(costs, OURS, STATELESS)
    row = RowResult.cpu_side_by_side(
        KEY,
        TITLE,
        result,
        unit="µs",
        target=TARGET,
        details={
            "cpu_us_per_request": {n: round(statistics.median(c) * 1e6, 1) for n, c in costs.items()},
            "wall_us_per_request": {n: round(statistics.median(w) * 1e6, 1) for n, w in wall.items()},
            "ratio_vs": {n: round(against(costs, OURS, n).ratio, 3) for n in costs if n != OURS},
            "network_calls_per_request": network,
            "queries_per_request": queries,
        },
    )
    if network[OURS] or queries[OURS]:
        row.status = "fail"
        row.note = f"steady state: {network[OURS]} network calls and {queries[OURS]} queries per request"
    return row
