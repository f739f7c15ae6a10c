"""RFC 8693 token exchange (civic-protocols.md B3): the exact request, caching, the expiry margin,
concurrent callers, provider errors; and the hub helper's headers."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt
import pytest
import requests

from django_civic.protocols.civic_auth import (
    MemoryCache,
    OIDCClient,
    TokenExchangeError,
    TokenExchanger,
    call_hub,
    hub_headers,
)


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sent():
    """Every request the client sends, as it went on the wire (a response hook: the call is real)."""
    return []


@pytest.fixture
def client(civic_sandbox, sent, clock):
    session = requests.Session()
    session.hooks["response"].append(lambda response, *args, **kwargs: sent.append(response.request))
    return OIDCClient(civic_sandbox.oidc_issuer, civic_sandbox.oidc_client_id,
                      civic_sandbox.oidc_client_secret, cache=MemoryCache(clock=clock), session=session,
                      clock=clock)


@pytest.fixture
def exchanger(client, clock):
    return TokenExchanger(client, MemoryCache(clock=clock), clock=clock)


@pytest.fixture
def subject(civic_sandbox):
    """The user's token from "their" identity provider: here a Civic access token from the sandbox."""
    return civic_sandbox.mint_oidc_token(type="access", persona="alice")


def exchanges(sandbox) -> int:
    return sandbox.oidc_stats().get("token:exchange", 0)


def test_the_request_is_exactly_civics(civic_sandbox, client, sent, subject):
    response = client.token_exchange(subject, expires_in=120, civic_profile="profile-1")
    request = sent[-1]
    assert request.method == "POST" and request.url == civic_sandbox.oidc_issuer + "token"
    expected = base64.b64encode(f"{civic_sandbox.oidc_client_id}:{civic_sandbox.oidc_client_secret}".encode())
    assert request.headers["Authorization"] == "Basic " + expected.decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.body)
    assert form == {
        "grant_type": ["urn:ietf:params:oauth:grant-type:token-exchange"],
        "subject_token": [subject],
        "subject_token_type": ["urn:ietf:params:oauth:token-type:access_token"],
        "expires_in": ["120"],
        "civic_profile": ["profile-1"],
    }
    claims = jwt.decode(response.access_token, options={"verify_signature": False})
    assert claims["civic_profile"] == "profile-1" and claims["exp"] - claims["iat"] == 120
    assert claims["sub"] == civic_sandbox.oidc_subject("alice")  # Civic -> Civic exchange keeps sub
    assert response.issued_token_type == "urn:ietf:params:oauth:token-type:access_token"


def test_optional_fields_are_left_out(civic_sandbox, client, sent, subject):
    client.token_exchange(subject)
    assert set(parse_qs(sent[-1].body)) == {"grant_type", "subject_token", "subject_token_type"}


def test_cached_per_user_and_profile(civic_sandbox, exchanger, subject):
    first = exchanger.access_token("user-1", subject)
    assert exchanger.access_token("user-1", lambda: subject).access_token == first.access_token
    assert exchanges(civic_sandbox) == 1
    exchanger.access_token("user-1", subject, profile="p1")
    exchanger.access_token("user-2", subject)
    assert exchanges(civic_sandbox) == 3
    exchanger.access_token("user-1", subject, profile="p1")
    assert exchanges(civic_sandbox) == 3


def test_a_new_subject_token_is_exchanged_again(civic_sandbox, exchanger, subject):
    exchanger.access_token("user-1", subject)
    exchanger.access_token("user-1", civic_sandbox.mint_oidc_token(type="access", persona="alice"))
    assert exchanges(civic_sandbox) == 2


def test_expiry_margin(civic_sandbox, client, clock, subject):
    exchanger = TokenExchanger(client, MemoryCache(clock=clock), clock=clock, margin=30)
    token = exchanger.access_token("u", subject, expires_in=120)
    assert token.expires_at == pytest.approx(clock.now + 90)  # 120 s minus the 30 s margin
    clock.now += 89
    assert exchanger.access_token("u", subject, expires_in=120).access_token == token.access_token
    clock.now += 2
    assert exchanger.access_token("u", subject, expires_in=120).access_token != token.access_token
    assert exchanges(civic_sandbox) == 2


def test_short_lifetimes_keep_half(civic_sandbox, client, clock, subject):
    exchanger = TokenExchanger(client, MemoryCache(clock=clock), clock=clock, margin=30)
    token = exchanger.access_token("u", subject, expires_in=60)
    assert token.expires_at == pytest.approx(clock.now + 30)  # min(30, 60 / 2)


def test_no_lifetime_means_no_caching(civic_sandbox, exchanger, subject):
    civic_sandbox.inject_fault("oidc.token", "expired", count=2)  # the sandbox answers expires_in: 0
    first = exchanger.access_token("u", subject)
    assert first.expires_at is None
    exchanger.access_token("u", subject)
    assert exchanges(civic_sandbox) == 2


def test_concurrent_callers_share_one_exchange(civic_sandbox, exchanger, subject):
    civic_sandbox.inject_fault("oidc.token", "latency", delay=0.5)  # keep the first exchange in flight
    results, barrier = [], threading.Barrier(6)

    def call():
        barrier.wait()
        results.append(exchanger.access_token("user-1", subject).access_token)

    threads = [threading.Thread(target=call) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 6 and len(set(results)) == 1
    assert exchanges(civic_sandbox) == 1


def test_concurrent_callers_share_one_failure(civic_sandbox, exchanger, subject):
    civic_sandbox.inject_fault("oidc.token", "status", status=500, delay=0.5)
    errors, barrier = [], threading.Barrier(4)

    def call():
        barrier.wait()
        try:
            exchanger.access_token("user-1", subject)
        except TokenExchangeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 4 and all(e.retryable for e in errors)
    assert civic_sandbox.oidc_stats()["token"] == 1


def test_a_refused_subject_token(civic_sandbox, exchanger):
    with pytest.raises(TokenExchangeError) as info:
        exchanger.access_token("u", civic_sandbox.mint_oidc_token(type="access", fault="bad_signature"))
    assert info.value.error == "invalid_grant" and info.value.status == 400 and not info.value.retryable
    assert "eyJ" not in str(info.value)  # no token in the message


@pytest.mark.parametrize("fault,options", [
    ("status", {"status": 500}), ("status", {"status": 429, "retry_after": 3}), ("malformed", {}),
    ("status", {"status": 401, "body": '{"error": "invalid_client"}'}),
])
def test_provider_errors(civic_sandbox, exchanger, subject, fault, options):
    civic_sandbox.inject_fault("oidc.token", fault, **options)
    with pytest.raises(TokenExchangeError):
        exchanger.access_token("u", subject)
    # A failure is not cached: the next call exchanges again and succeeds.
    assert exchanger.access_token("u", subject).access_token


def test_provider_down(civic_sandbox, exchanger, subject):
    civic_sandbox.inject_fault("oidc.token", "status", status=503)
    with pytest.raises(TokenExchangeError) as info:
        exchanger.access_token("u", subject)
    assert info.value.retryable


def test_an_empty_subject_clears_the_cache(civic_sandbox, exchanger, subject):
    exchanger.access_token("u", subject)
    with pytest.raises(TokenExchangeError):
        exchanger.access_token("u", lambda: "")
    exchanger.access_token("u", subject)
    assert exchanges(civic_sandbox) == 2


def test_public_clients_cannot_exchange(civic_sandbox, subject):
    public = OIDCClient(civic_sandbox.oidc_issuer, "public-app", None, cache=MemoryCache())
    from django_civic.protocols.civic_auth import OIDCConfigurationError

    with pytest.raises(OIDCConfigurationError):
        TokenExchanger(public, MemoryCache()).access_token("u", subject)


@pytest.mark.django_db
def test_the_django_helper_uses_settings_and_the_shared_cache(civic_sandbox, settings):
    from django.contrib.auth import get_user_model
    from django.core.cache import caches

    from django_civic.civic_auth.client import civic_access_token_for

    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  AUTH={"PROFILE_ID": "team-1"})
    user = get_user_model().objects.create_user("ann")
    subject_token = civic_sandbox.mint_oidc_token(type="access")
    token = civic_access_token_for(user, subject_token)
    assert jwt.decode(token.access_token, options={"verify_signature": False})["civic_profile"] == "team-1"
    assert civic_access_token_for(user, subject_token).access_token == token.access_token
    assert exchanges(civic_sandbox) == 1


# -- the hub helper -------------------------------------------------------------------------------------

class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).seen.append((dict(self.headers), json.loads(body)))
        payload = b'{"jsonrpc": "2.0", "id": 1, "result": {}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_hub_requests_carry_the_bearer_token_and_profile():
    """The hub cannot run here: a local HTTP server stands in and records what arrives."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hub/mcp"
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        response = call_hub("civic-access-token", message, url=url, profile_id="3f1c", session_id="s-1")
        assert response.status_code == 200
        headers, body = _Recorder.seen[-1]
        assert headers["Authorization"] == "Bearer civic-access-token"
        assert headers["x-civic-profile-id"] == "3f1c" and headers["mcp-session-id"] == "s-1"
        assert headers["Accept"] == "application/json, text/event-stream" and body == message
        call_hub("t2", message, url=url)
        assert "x-civic-profile-id" not in _Recorder.seen[-1][0]
    finally:
        server.shutdown()
        server.server_close()


def test_hub_headers_need_a_token():
    with pytest.raises(ValueError):
        hub_headers("")
