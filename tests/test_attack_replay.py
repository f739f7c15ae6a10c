"""Replay across processes: one SIP auth code, or one Civic Auth ID token, sent 50 times at once to two app
servers that share only PostgreSQL and Redis, gives exactly one login; the other 49 get a clear 4xx.

The servers run as production would: separate processes (tests/multiprocess.py), session login with the
CSRF check, throttling on at its default rate. The 50 copies come from 50 client addresses through one
trusted proxy (``TRUSTED_PROXY_COUNT = 1``), as a botnet replaying a stolen code would, so the throttle is
not what stops them: single use is. ``make test-postgres`` runs these (CI does); skipped on SQLite.

For an ID token, "the same token 50 times" needs a nonce per request (civic/auth/token/ takes a
``nonce_id`` the server issued, single use). Two layers stop a replay, and each is shown on its own:

- the copies all carry the token's own ``nonce_id``: the nonce is taken once, the others get
  ``nonce_invalid``;
- the nonce layer taken out of the way (each copy gets its own ``nonce_id``, whose stored nonce is set in
  the shared Redis to the token's nonce, as if nonces leaked): the token's ``jti`` is consumed once across
  both processes, the others get ``token_replayed``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from django.core.cache.backends.redis import RedisCache

from django_civic.civic_auth.api import _nonce_key

from .multiprocess import REDIS_URL, AppServers, fire_at_once

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(os.environ.get("CIVIC_TEST_DB") != "postgres",
                       reason="needs PostgreSQL and Redis (CIVIC_TEST_DB=postgres, make test-postgres)"),
]
COPIES = 50
SERVERS = 2
EXCHANGE = "/civic/sip/exchange/"
NONCE = "/civic/auth/nonce/"
TOKEN = "/civic/auth/token/"


def client_ip(n: int) -> str:
    """A distinct client address per request (10.x.y.z), as seen by our one trusted proxy."""
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


@pytest.fixture(scope="module")
def app_servers(civic_sandbox_server):
    # Production settings where they matter: session login (CSRF checked), default throttle rate.
    with AppServers(civic_sandbox_server, count=SERVERS, civic={"TRUSTED_PROXY_COUNT": 1}) as running:
        yield running


@pytest.fixture
def servers(app_servers, civic_sandbox):
    app_servers.reset()  # no user, no session, an empty shared cache
    return app_servers


def replay(servers: AppServers, path: str, bodies: list[dict[str, Any]], first_ip: int) -> list[Any]:
    """POST ``bodies[i]`` to server ``i % 2``, all at once, each on a connection opened beforehand."""
    connections = [servers.connect(i % SERVERS) for i in range(len(bodies))]
    return fire_at_once(len(bodies), lambda i: servers.post(
        i % SERVERS, path, bodies[i], client_ip=client_ip(first_ip + i), connection=connections[i]))


def outcomes(results: list[Any]) -> Counter[str]:
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]
    return Counter("login" if status == 200 else f"{status} {body.get('error')}" for status, body in results)


def test_one_sip_code_fifty_times_on_two_servers_logs_in_once(civic_sandbox, servers, record_figure):
    code = civic_sandbox.mint_code("alice")["authToken"]
    results = replay(servers, EXCHANGE, [{"token": code}] * COPIES, first_ip=1)
    assert outcomes(results) == {"login": 1, "400 token_replayed": COPIES - 1}, servers.stderr(0)
    for status, body in results:
        if status != 200:
            assert body["detail"] and body["retryable"] is False and code not in str(body)
    rows = servers.rows()
    assert rows["users"] == 1 and rows["identities"] == 1 and rows["sessions"] == 1, rows
    record_figure("replay.sip_code", sent=COPIES, servers=SERVERS, logins=1, refused=COPIES - 1,
                  refusal="400 token_replayed", users_created=rows["users"])


def test_one_id_token_fifty_times_with_its_nonce_logs_in_once(civic_sandbox, servers, record_figure):
    status, issued = servers.post(0, NONCE, {}, client_ip=client_ip(1000))
    assert status == 200, issued
    token = civic_sandbox.mint_oidc_token(persona="carol", nonce=issued["nonce"])
    results = replay(servers, TOKEN, [{"id_token": token, "nonce_id": issued["nonce_id"]}] * COPIES,
                     first_ip=1001)
    assert outcomes(results) == {"login": 1, "400 nonce_invalid": COPIES - 1}, servers.stderr(0)
    rows = servers.rows()
    assert rows["users"] == 1 and rows["identities"] == 1 and rows["sessions"] == 1, rows
    record_figure("replay.id_token.same_nonce", sent=COPIES, servers=SERVERS, logins=1, refused=COPIES - 1,
                  refusal="400 nonce_invalid", users_created=rows["users"])


def test_one_id_token_fifty_times_with_fifty_nonces_logs_in_once(civic_sandbox, servers, record_figure):
    # Fifty genuine nonce ids, issued by both servers...
    issued = [servers.post(i % SERVERS, NONCE, {}, client_ip=client_ip(2000 + i))[1] for i in range(COPIES)]
    assert all("nonce_id" in entry for entry in issued), issued[:2]
    token = civic_sandbox.mint_oidc_token(persona="alice", nonce=issued[0]["nonce"])
    # ... each made to hold the token's nonce in the shared cache: only the jti can stop the copies now.
    shared = RedisCache(REDIS_URL, {"KEY_PREFIX": "django_civic_tests"})
    try:
        for entry in issued[1:]:
            shared.set(_nonce_key(entry["nonce_id"]), issued[0]["nonce"], 600)
    finally:
        shared.close()
    bodies = [{"id_token": token, "nonce_id": entry["nonce_id"]} for entry in issued]
    results = replay(servers, TOKEN, bodies, first_ip=3000)
    assert outcomes(results) == {"login": 1, "400 token_replayed": COPIES - 1}, servers.stderr(0)
    rows = servers.rows()
    assert rows["users"] == 1 and rows["identities"] == 1 and rows["sessions"] == 1, rows
    record_figure("replay.id_token.jti", sent=COPIES, servers=SERVERS, logins=1, refused=COPIES - 1,
                  refusal="400 token_replayed", users_created=rows["users"])
