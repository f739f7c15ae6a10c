"""Hostile input on the sandbox's control API, mounted in a site at ``civic-sandbox/control/`` (hypothesis).

The control API is for tests and people, but a mounted sandbox answers whoever reaches the site, so it
must not fall over either. Its documented error shape is ``{"message": ...}`` with a 4xx (docs/sandbox.md).
A body that is not a JSON object is always refused and changes nothing; an object with hostile values is
either a valid command or refused with nothing changed; no request is ever a 500. "Nothing changed" is
read through the API itself: queued faults, SIP apps, OIDC clients and keys, IDEMIA sessions and counters,
and the site's own tables.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from .hostile import CONTENT_TYPES, EXAMPLES, db_rows, json_values, raw_bodies

pytestmark = pytest.mark.django_db
BASE = "/civic-sandbox/control/"

# Each state-changing endpoint and the fields it reads (docs/sandbox.md, the control APIs).
ENDPOINTS = {
    "faults": ["channel", "kind", "count", "status", "delay", "body", "retry_after", "seconds"],
    "sip/apps": ["appId", "appSecret", "publicKey", "name"],
    "sip/codes": ["appId", "persona", "data", "scope", "userId", "age"],
    "oidc/clients": ["client_id", "client_secret", "public", "redirect_uris", "post_logout_redirect_uris",
                     "allow_localhost", "pkce_without_secret"],
    "oidc/keys/rotate": ["retire_previous"],
    "oidc/tokens": ["type", "persona", "client_id", "nonce", "claims", "remove", "fault", "access_token"],
    "oidc/providers": ["issuer", "audience", "jwks_uri", "public_key", "algorithms", "max_ttl"],
    "oidc/access": ["public_access", "invited"],
    "idemia/config": ["token_ttl", "session_ttl", "retry_delay", "callback_timeout"],
    "idemia/sessions/00000000-0000-4000-8000-000000000000/complete": ["outcome", "persona", "loa", "wait"],
}
# Values worth trying in those fields besides random JSON: right type, wrong meaning.
NASTY = st.sampled_from([
    "", " ", "\x00", "a" * 5000, -1, 0, 10 ** 30, 1e308, -1e308, True, [], {}, [[[]]], "sip.exchange",
    "status",
    "alice", "nobody", "../../etc/passwd", "http://", "http://[::1", "https://evil.example/", "LOA9",
    {"label": "x"}, [{"label": 1, "value": None}], ["openid"], {"sub": {"$ne": None}}, "alg_none",
])


def state(client) -> dict:
    """What the sandbox holds, read through its own control API."""
    def get(path: str) -> object:
        response = client.get(BASE + path)
        assert response.status_code == 200, (path, response.content[:200])
        return response.json()

    return {"faults": get("faults"), "apps": get("sip/apps"), "clients": get("oidc/clients"),
            "keys": get("oidc/keys"), "idemia": get("idemia/state"), "sessions": get("idemia/sessions"),
            "providers": get("oidc/providers"), "access": get("oidc/access")}


def assert_sandbox_error(response) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].split(";")[0] == "application/json", response["Content-Type"]
    body = json.loads(response.content)
    assert isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"], body
    return body["message"]


@pytest.fixture
def sandbox(civic_sandbox, settings):
    # Mounted and stand-alone sandboxes share one state per process; the fixture resets it afterwards. A
    # mounted sandbox answers only in development (SANDBOX and DEBUG on; test_sandbox_isolation.py).
    settings.DEBUG = True
    settings.CIVIC = civic_sandbox.civic_settings()
    civic_sandbox.reset()
    return civic_sandbox


def test_bodies_that_are_not_an_object_are_refused_and_change_nothing(sandbox, record_figure):
    client = Client()
    before, rows = state(client), db_rows()
    tried: Counter[str] = Counter()

    @hsettings(max_examples=100, **EXAMPLES)
    @given(endpoint=st.sampled_from(sorted(ENDPOINTS)),
           body=raw_bodies(["channel", "appId", "type"]).filter(lambda raw: not _is_json_object(raw)),
           content_type=CONTENT_TYPES)
    def attack(endpoint, body, content_type):
        response = client.generic("POST", BASE + endpoint, body, content_type=content_type)
        assert_sandbox_error(response)
        tried[endpoint] += 1
        assert state(client) == before and db_rows() == rows

    attack()
    record_figure("hostile_input.sandbox_control.bodies", cases=sum(tried.values()), endpoints=len(tried),
                  server_errors=0, state_changed=0)


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"channel": "sip.exchange", "kind": "status", "status": 500}'.encode("utf-16"), "application/json"),
    ('{"channel": "sip.exchange", "kind": "status", "status": 500}'.encode("utf-32"), "application/json"),
    (b'{"channel": "sip.exchange", "kind": "status", "status": 500}', "application/json; charset=latin-1"),
    (b'{"channel": "sip.exchange", "kind": "status", "status": 500}', "application/json; charset=zlib_codec"),
])
def test_a_command_in_anything_but_utf8_is_refused(sandbox, body, content_type):
    """JSON is UTF-8 (RFC 8259): a valid command in another encoding or under another charset is refused,
    as the app's own API does, and queues nothing."""
    client = Client()
    before = state(client)
    response = client.generic("POST", BASE + "faults", body, content_type=content_type)
    assert_sandbox_error(response)
    assert state(client) == before
    # The same command in UTF-8 is accepted: the refusal is about the encoding, not the command.
    assert client.post(BASE + "faults", {"channel": "sip.exchange", "kind": "status", "status": 500},
                       content_type="application/json; charset=utf-8").status_code == 201


def test_objects_with_hostile_values_never_break_it(sandbox, record_figure):
    client = Client()
    rows = db_rows()
    tried: Counter[str] = Counter()

    @hsettings(max_examples=80, **EXAMPLES)
    @given(data=st.data(), endpoint=st.sampled_from(sorted(ENDPOINTS)))
    def attack(data, endpoint):
        fields = ENDPOINTS[endpoint]
        values = NASTY | json_values(fields)
        body = data.draw(st.dictionaries(st.sampled_from(fields), values, max_size=len(fields)))
        before = state(client)
        response = client.post(BASE + endpoint, json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (endpoint, body, response.content[:300])
        if response.status_code >= 400:
            assert_sandbox_error(response)
            assert state(client) == before, (endpoint, body)
            tried["refused"] += 1
        else:
            tried["accepted"] += 1
        assert db_rows() == rows
        sandbox.reset()  # an accepted command changed the sandbox: start the next example from scratch

    attack()
    record_figure("hostile_input.sandbox_control.values", cases=sum(tried.values()), refused=tried["refused"],
                  accepted_as_valid=tried["accepted"], server_errors=0)


# Every JSON type, and containers of the wrong things, for the grid below.
WRONG_TYPES = [None, True, 0, -1, 10 ** 30, 1.5, 1e308, "", "x" * 5000, "\ud800", [], [None], [[1]], [{}], {},
               {"a": [1]}, {"": {"": {}}}]


def test_every_field_with_every_type(sandbox, record_figure):
    """A grid, not a sample: each field of each endpoint with each JSON type, alone in the body."""
    client = Client()
    rows, baseline = db_rows(), state(client)  # what the sandbox holds after a reset
    tried: Counter[str] = Counter()
    for endpoint, fields in sorted(ENDPOINTS.items()):
        for field in fields:
            for value in WRONG_TYPES:
                response = client.post(BASE + endpoint, json.dumps({field: value}),
                                       content_type="application/json")
                assert response.status_code < 500, (endpoint, field, value, response.content[:300])
                if response.status_code >= 400:
                    assert_sandbox_error(response)
                    assert state(client) == baseline, (endpoint, field, value)
                    tried["refused"] += 1
                else:
                    tried["accepted"] += 1
                    sandbox.reset()  # back to the baseline for the next case
    assert db_rows() == rows
    record_figure("hostile_input.sandbox_control.type_grid", cases=sum(tried.values()),
                  refused=tried["refused"], accepted_as_valid=tried["accepted"], server_errors=0)


@pytest.mark.parametrize("path", [
    "sip/nope", "idemia/sessions/..%2F..%2Fstate", "idemia/sessions/%00", "idemia/identities/' OR 1=1",
    "idemia/sessions/" + "x" * 3000, "oidc/tokens/", "faults?channel=%ff",
])
def test_hostile_paths_are_4xx(sandbox, path):
    client = Client()
    before = state(client)
    for method in ("GET", "POST", "DELETE", "PUT"):
        response = client.generic(method, BASE + path, b"{}", content_type="application/json")
        assert response.status_code < 500 and (response.status_code >= 400 or method in ("GET", "DELETE")), (
            method, response.status_code)
        # (GET and DELETE of "faults?channel=..." are valid commands; DELETE of an unknown channel is a no-op)
    assert state(client)["apps"] == before["apps"] and state(client)["clients"] == before["clients"]


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw or b"{}"), dict)
    except (ValueError, RecursionError):
        return False
