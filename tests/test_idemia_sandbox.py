"""The IDEMIA part of the sandbox: what it checks, how it answers, how its callback behaves."""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests

from django_civic.sandbox import defaults
from django_civic.sandbox.idemia.testing import RecordingServer


def token(url: str) -> str:
    response = requests.post(f"{url}idemia/oauth2/token", data={
        "grant_type": "client_credentials", "client_id": defaults.IDEMIA_CLIENT_ID,
        "client_secret": defaults.IDEMIA_CLIENT_SECRET}, timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return body["access_token"]


def create_session(url: str, **body) -> str:
    response = requests.post(f"{url}idemia/rp/api/v1/sessions", json=body,
                             headers={"Authorization": f"Bearer {token(url)}"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["sessionId"]


def test_index_advertises_the_idemia_layout(civic_sandbox):
    info = requests.get(civic_sandbox.url, timeout=5).json()["idemia"]
    assert info["token_url"] == f"{civic_sandbox.url}idemia/oauth2/token"
    assert info["rp_handler_url"] == f"{civic_sandbox.url}idemia/rp/"
    assert info["gips_url"] == f"{civic_sandbox.url}idemia/gips/"


def test_token_accepts_http_basic_like_cognito(civic_sandbox):
    basic = base64.b64encode(f"{defaults.IDEMIA_CLIENT_ID}:{defaults.IDEMIA_CLIENT_SECRET}".encode()).decode()
    response = requests.post(
        f"{civic_sandbox.url}idemia/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=5,
    )
    assert response.status_code == 200 and response.json()["access_token"]
    assert response.json()["expires_in"] == 3600  # Cognito's documented lifetime


@pytest.mark.parametrize(("data", "error"), [
    ({"grant_type": "client_credentials", "client_id": defaults.IDEMIA_CLIENT_ID, "client_secret": "nope"},
     "invalid_client"),
    ({"grant_type": "client_credentials"}, "invalid_client"),
    ({"grant_type": "password", "client_id": defaults.IDEMIA_CLIENT_ID,
      "client_secret": defaults.IDEMIA_CLIENT_SECRET}, "unsupported_grant_type"),
])
def test_token_refusals(civic_sandbox, data, error):
    response = requests.post(f"{civic_sandbox.url}idemia/oauth2/token", data=data, timeout=5)
    assert response.status_code == 400 and response.json() == {"error": error}
    assert civic_sandbox.idemia_state()["counters"]["tokens_issued"] == 0


def test_sessions_need_a_valid_bearer_token(civic_sandbox):
    url = f"{civic_sandbox.url}idemia/rp/api/v1/sessions"
    assert requests.post(url, json={}, timeout=5).status_code == 401
    assert (
        requests.post(url, json={}, headers={"Authorization": "Bearer made-up"}, timeout=5).status_code == 401
    )
    civic_sandbox.idemia_configure(token_ttl=0)
    stale = token(civic_sandbox.url)
    assert (
        requests.post(url, json={}, headers={"Authorization": f"Bearer {stale}"}, timeout=5).status_code
        == 401
    )
    assert civic_sandbox.idemia_state()["counters"]["sessions_created"] == 0


@pytest.mark.parametrize("body", [{"callbackUrl": "javascript:alert(1)"}, {"gotoUrl": "/relative"},
                                  {"callbackUrl": 5}])
def test_session_urls_must_be_absolute_http(civic_sandbox, body):
    response = requests.post(f"{civic_sandbox.url}idemia/rp/api/v1/sessions", json=body,
                             headers={"Authorization": f"Bearer {token(civic_sandbox.url)}"}, timeout=5)
    assert response.status_code == 400


def test_journey_page_offers_personas_and_outcomes(civic_sandbox):
    session_id = create_session(civic_sandbox.url)
    page = requests.get(
        f"{civic_sandbox.url}idemia/rp/api/v1/ipa/start", params={"session-id": session_id}, timeout=5
    )
    assert page.status_code == 200
    for testid in ("idemia-persona-alice", "idemia-persona-bob", "idemia-outcome-verified",
                   "idemia-outcome-not-verified", "idemia-outcome-error", "idemia-outcome-heartbeat-timeout"):
        assert f'data-testid="{testid}"' in page.text
    assert civic_sandbox.idemia_session(session_id)["state"] == "STARTED"


def test_journey_refuses_unknown_finished_and_expired_sessions(civic_sandbox):
    start = f"{civic_sandbox.url}idemia/rp/api/v1/ipa/start"
    assert requests.get(start, params={"session-id": "nope"}, timeout=5).status_code == 404
    session_id = create_session(civic_sandbox.url)
    civic_sandbox.idemia_complete(session_id, "ERROR")
    assert requests.get(start, params={"session-id": session_id}, timeout=5).status_code == 409
    civic_sandbox.control(
        "POST", f"idemia/sessions/{session_id}/complete", {"outcome": "VERIFIED"}, expect=409
    )
    civic_sandbox.idemia_configure(session_ttl=0)
    expired = create_session(civic_sandbox.url)
    assert requests.get(start, params={"session-id": expired}, timeout=5).status_code == 410


def test_finishing_redirects_to_goto_and_calls_back(civic_sandbox):
    with RecordingServer(default_status=204) as receiver:
        session_id = create_session(civic_sandbox.url, callbackUrl=receiver.url + "cb/s3cret/",
                                    gotoUrl="https://site.example/done/")
        response = requests.post(
            f"{civic_sandbox.url}idemia/rp/api/v1/ipa/finish",
            allow_redirects=False,
            data={"session-id": session_id, "persona": "carol", "outcome": "VERIFIED"},
            timeout=5,
        )
        assert response.status_code == 302 and response.headers["Location"] == "https://site.example/done/"
        session = civic_sandbox.idemia_wait_for_callback(session_id)
        assert session["callback"]["state"] == "delivered"
        assert [r["path"] for r in receiver.requests] == ["/cb/s3cret/"]
        body = json.loads(receiver.requests[0]["body"])
        assert receiver.requests[0]["headers"]["Content-Type"] == "application/json"
    assert body["sessionId"] == session_id and body["identityId"] == session["identity_id"]
    assert body["applicationId"] and isinstance(body["timestamp"], float)
    assert body["proofUrl"] == f"{civic_sandbox.url}idemia/gips/v1/identities/{session['identity_id']}/proof"
    assert "status" not in body


@pytest.mark.parametrize("outcome", ["ERROR", "HEARTBEAT_TIMEOUT"])
def test_abnormal_end_reports_status_without_identity(civic_sandbox, outcome):
    with RecordingServer(default_status=200) as receiver:
        session_id = create_session(civic_sandbox.url, callbackUrl=receiver.url)
        civic_sandbox.idemia_complete(session_id, outcome, wait=True)
        body = json.loads(receiver.requests[0]["body"])
    assert body["status"] == outcome and "identityId" not in body and "proofUrl" not in body


def test_callback_is_retried_twice_on_failure(civic_sandbox):
    civic_sandbox.idemia_configure(retry_delay=0.05)
    with RecordingServer(statuses=[500, 503], default_status=204) as receiver:
        session_id = create_session(civic_sandbox.url, callbackUrl=receiver.url)
        session = civic_sandbox.idemia_complete(session_id, wait=True)
        assert len(receiver.requests) == 3
    assert session["callback"]["state"] == "delivered"
    assert [a.get("status") for a in session["callback"]["attempts"]] == [500, 503, 204]


def test_callback_gives_up_after_three_attempts(civic_sandbox):
    civic_sandbox.idemia_configure(retry_delay=0.05)
    with RecordingServer(default_status=500) as receiver:
        session_id = create_session(civic_sandbox.url, callbackUrl=receiver.url)
        session = civic_sandbox.idemia_complete(session_id, wait=True)
        assert len(receiver.requests) == 3
    assert session["callback"]["state"] == "failed"


def test_callback_faults_drop_and_duplicate(civic_sandbox):
    with RecordingServer(default_status=204) as receiver:
        civic_sandbox.inject_fault("idemia.callback", "drop")
        dropped = create_session(civic_sandbox.url, callbackUrl=receiver.url)
        assert civic_sandbox.idemia_complete(dropped, wait=True)["callback"]["state"] == "dropped"
        assert receiver.requests == []
        civic_sandbox.inject_fault("idemia.callback", "duplicate")
        doubled = create_session(civic_sandbox.url, callbackUrl=receiver.url)
        civic_sandbox.idemia_complete(doubled, wait=True)
        assert len(receiver.requests) == 2
        assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_gips_needs_the_api_key_and_the_proof_closes_the_transaction(civic_sandbox):
    session_id = create_session(civic_sandbox.url)
    identity_id = civic_sandbox.idemia_complete(session_id)["identity_id"]
    identity_url = f"{civic_sandbox.url}idemia/gips/v1/identities/{identity_id}"
    assert requests.get(identity_url, timeout=5).status_code == 401
    assert requests.get(identity_url, headers={"apikey": "wrong"}, timeout=5).status_code == 401
    key = {"apikey": defaults.IDEMIA_API_KEY}
    payload = requests.get(identity_url, headers=key, timeout=5).json()
    assert (
        payload["globalStatus"]["id"] == identity_id and payload["globalStatus"]["levelOfAssurance"] == "LOA3"
    )
    civic_sandbox.inject_fault("idemia.proof", "processing")
    assert requests.get(identity_url + "/proof", headers=key, timeout=5).status_code == 403
    proof = requests.get(identity_url + "/proof", headers=key, timeout=5)
    assert proof.status_code == 200 and proof.headers["Content-Type"].startswith("multipart/mixed")
    assert requests.get(identity_url, headers=key, timeout=5).status_code == 404
    assert requests.get(identity_url + "/proof", headers=key, timeout=5).status_code == 404
    stats = civic_sandbox.idemia_identity(identity_id)
    assert stats == {**stats, "closed": True, "proof_fetches": 1, "proof_refusals": 1, "identity_fetches": 1}


def test_control_api_validates_input(civic_sandbox):
    civic_sandbox.control("POST", "idemia/config", {"nope": 1}, expect=400)
    civic_sandbox.control("POST", "idemia/config", {"retry_delay": -1}, expect=400)
    civic_sandbox.control("POST", "idemia/sessions/unknown/complete", {"outcome": "VERIFIED"}, expect=404)
    session_id = create_session(civic_sandbox.url)
    civic_sandbox.control("POST", f"idemia/sessions/{session_id}/complete", {"outcome": "MAYBE"}, expect=400)
    civic_sandbox.control("POST", f"idemia/sessions/{session_id}/complete",
                          {"outcome": "VERIFIED", "persona": "nobody"}, expect=400)
    civic_sandbox.control("GET", "idemia/identities/gips-unknown", expect=404)
    assert civic_sandbox.idemia_session(session_id)["state"] == "CREATED"


def test_reset_forgets_everything_and_stops_pending_callbacks(civic_sandbox):
    civic_sandbox.idemia_configure(retry_delay=0.3)
    with RecordingServer(default_status=500) as receiver:
        session_id = create_session(civic_sandbox.url, callbackUrl=receiver.url)
        civic_sandbox.idemia_complete(session_id)
        civic_sandbox.reset()
        time.sleep(1.0)
        assert len(receiver.requests) <= 1  # the first attempt may have left before the reset
    assert civic_sandbox.idemia_state()["sessions"] == 0
    assert civic_sandbox.idemia_state()["config"]["retry_delay"] == 1.0


def test_unknown_fault_kinds_are_refused_on_idemia_channels(civic_sandbox):
    for channel, kind in (
        ("idemia.callback", "dropp"),
        ("idemia.proof", "procesing"),
        ("idemia.token", "processing"),
    ):
        civic_sandbox.control("POST", "faults", {"channel": channel, "kind": kind}, expect=400)
    civic_sandbox.inject_fault("idemia.gips", "processing")
    civic_sandbox.inject_fault("idemia.callback", "latency", delay=0.1)
    assert set(civic_sandbox.control("GET", "faults")["pending"]) == {"idemia.gips", "idemia.callback"}
