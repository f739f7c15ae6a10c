"""The redirect flow's pending-login store, and how claims become verified attributes."""

from __future__ import annotations

import pytest

from django_civic.civic_auth.backend import claims_to_attributes
from django_civic.protocols.civic_auth import StateError, StateStore
from django_civic.protocols.civic_auth.pkce import s256_challenge


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_begin_then_consume_once():
    session, clock = {}, Clock()
    store = StateStore(session, clock=clock)
    pending = store.begin(redirect_uri="https://site/cb", next_url="/profile/")
    assert len(pending.state) >= 40 and pending.nonce != pending.state and len(pending.code_verifier) >= 43
    assert store.consume(pending.state) == pending
    with pytest.raises(StateError):
        store.consume(pending.state)
    assert session == {}  # nothing left behind


@pytest.mark.parametrize("state", [None, "", 5, "unknown", "x" * 5000])
def test_missing_or_unknown_state(state):
    store = StateStore({})
    store.begin(redirect_uri="https://site/cb")
    with pytest.raises(StateError):
        store.consume(state)


def test_another_sessions_state_does_not_match():
    victim, attacker = StateStore({}), StateStore({})
    pending = victim.begin(redirect_uri="https://site/cb")
    with pytest.raises(StateError):
        attacker.consume(pending.state)
    assert victim.consume(pending.state).nonce == pending.nonce


def test_stale_state_is_refused_and_dropped():
    session, clock = {}, Clock()
    store = StateStore(session, ttl=600, clock=clock)
    old = store.begin(redirect_uri="https://site/cb")
    clock.now += 601
    with pytest.raises(StateError):
        store.consume(old.state)
    assert session == {}


def test_bounded():
    session = {}
    store = StateStore(session, max_pending=10)
    states = [store.begin(redirect_uri="https://site/cb").state for _ in range(12)]
    assert len(session[store.key]) == 10
    with pytest.raises(StateError):
        store.consume(states[0])  # the oldest were dropped
    assert store.consume(states[-1])


def test_corrupt_session_data_is_ignored():
    session = {"django_civic.oidc.pending": [{"state": "s"}, "junk", None]}
    with pytest.raises(StateError):
        StateStore(session).consume("s")


def test_pkce_s256_vector():
    # RFC 7636 Appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_claims_become_attributes():
    attributes = {a.label: a for a in claims_to_attributes({
        "sub": "s", "email": "a@example.com", "email_verified": True, "name": "Ann", "updated_at": 1700000000,
        "forwardedTokens": {"google": {"accessToken": "secret"}}, "picture": ["not", "a", "string"],
        "phone_number": "+1 555", "phone_number_verified": False, "locale": "", "nickname": True,
    })}
    assert set(attributes) == {"oidc.email", "contact.personal.email", "oidc.name", "oidc.updated_at",
                               "oidc.phone_number"}
    assert attributes["oidc.email"].verified and attributes["contact.personal.email"].verified
    assert not attributes["oidc.phone_number"].is_valid  # phone_number_verified is false
    assert attributes["oidc.updated_at"].value == "1700000000"


@pytest.mark.parametrize("verified", [False, None, "true", 1])
def test_only_a_verified_email_is_the_shared_email(verified):
    attributes = claims_to_attributes({"email": "a@example.com", "email_verified": verified})
    labels = {a.label: a for a in attributes}
    assert "contact.personal.email" not in labels and not labels["oidc.email"].is_valid
