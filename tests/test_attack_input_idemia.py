"""Hostile input on IDEMIA's unsigned callback, ``POST civic/proofing/callback/<secret>/`` (hypothesis).

The callback answers an empty 204 when it accepts, a 4xx JSON ``{"error", "detail"}`` when it refuses
(docs/proofing.md). Here every request is hostile by construction: garbage bodies, or the genuine body
with at least one field made invalid (a session that is not this one, another application, an implausible
time, a malformed identity id or status), on the genuine secret URL or a guessed one, with any method and
content type. Each must be refused with a documented code and change nothing: no session row, no identity,
no attribute, and no call to GIPS. The test ends by delivering the genuine callback, which is accepted.
tests/test_proofing_flow.py holds one fixed test per forged variant; this one throws them together.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, TestCase
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from django_civic.idemia import fetch as proofing_fetch
from django_civic.models import CivicIdentity, ProofingSession, VerifiedAttribute

from .hostile import CONTENT_TYPES, EXAMPLES, HOSTILE_META, assert_json_error, db_rows, latin1, raw_bodies

pytestmark = pytest.mark.django_db
# docs/proofing.md, "Answers": every refusal the callback documents.
REFUSALS = {
    "invalid_callback", "stale_callback", "wrong_application", "unknown_session", "method_not_allowed",
    "identity_mismatch", "callback_conflict", "session_expired", "payload_too_large",
}


@pytest.fixture
def pending(settings, civic_sandbox, monkeypatch):
    """A started proofing session, finished at IDEMIA, whose genuine callback has not been delivered."""
    monkeypatch.setattr(proofing_fetch, "PROCESSING_BACKOFF", (0.01, 0.01, 0.01))
    settings.CIVIC = civic_sandbox.civic_settings(
        SANDBOX_ALLOW_WITHOUT_DEBUG=True, API={"THROTTLE_RATE": None},
        IDEMIA={})
    browser = Client()
    browser.force_login(get_user_model().objects.create_user("ada", password="pw"))
    response = browser.post(reverse("django_civic:proofing-start"))
    assert response.status_code == 303, response.content
    session = ProofingSession.objects.get()
    civic_sandbox.inject_fault("idemia.callback", "drop")  # we deliver the callback ourselves
    state = civic_sandbox.idemia_complete(session.idemia_session_id, "VERIFIED")
    return civic_sandbox, session, urlsplit(state["callback_url"]).path, state["callback"]["body"]


def post(path: str, body: bytes, *, method: str = "POST", content_type: str = "application/json", **meta):
    # on_commit callbacks run, so a callback that were wrongly accepted would go on to fetch and record.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client(enforce_csrf_checks=True).generic(method, path, body, content_type=content_type, **meta)


def snapshot_rows() -> tuple:
    return list(ProofingSession.objects.order_by("pk").values()), CivicIdentity.objects.count(), \
        VerifiedAttribute.objects.count()


def snapshot(sandbox, identity_id: str) -> tuple:
    """Every row a callback could change, and how often GIPS was asked about the identity."""
    return (*snapshot_rows(), sandbox.idemia_identity(identity_id)["identity_fetches"])


NOT_A_STRING = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.lists(st.integers(), max_size=2),
                         st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def invalid_value(field: str, genuine: dict) -> st.SearchStrategy:
    """A value for ``field`` that makes the callback invalid, whatever the other fields say."""
    if field == "sessionId":
        return st.one_of(NOT_A_STRING.filter(lambda v: v is not None), st.text(max_size=7),
                         st.text(min_size=1, max_size=20).map(lambda s: "ab/../" + s), st.just("x" * 129),
                         st.builds(lambda: str(uuid.uuid4())))  # well formed, but not a session of ours
    if field == "applicationId":
        return st.one_of(NOT_A_STRING.filter(lambda v: v is not None),
                         st.text(max_size=30).filter(lambda s: s != genuine["applicationId"]))
    if field == "timestamp":
        day = 86400
        return st.one_of(st.text(max_size=10), st.booleans(), st.none(), st.just(1e308),
                         st.floats(min_value=1, max_value=day).map(lambda d: genuine["timestamp"] - day - d),
                         st.floats(min_value=1, max_value=day).map(lambda d: genuine["timestamp"] + day + d))
    if field == "identityId":
        return st.one_of(NOT_A_STRING.filter(lambda v: v is not None),
                         st.sampled_from(["../../admin", "https://evil.example/", "gips-1", "", " " * 3,
                                          genuine["identityId"] + "/proof",
                                          genuine["identityId"].upper() + "x"]),
                         st.text(max_size=30))
    if field == "status":
        return st.one_of(NOT_A_STRING.filter(lambda v: v is not None),
                         st.sampled_from(["", "VERIFIED; DROP TABLE", "a" * 129, "OK\n", "<b>"]))
    if field == "proofUrl":
        return st.one_of(NOT_A_STRING.filter(lambda v: v is not None), st.just("https://evil.example/" * 200))
    raise AssertionError(field)


def hostile_callbacks(genuine: dict) -> st.SearchStrategy[tuple[str, bytes]]:
    """``(kind, body)``: the genuine body with 1-3 fields broken or removed, plus junk; any bytes at all; or
    the genuine body itself (``guessed_secret``: sent only to a guessed URL)."""
    fields = ["sessionId", "applicationId", "timestamp", "identityId", "status", "proofUrl"]

    @st.composite
    def broken(draw) -> tuple[str, bytes]:
        body = dict(genuine)
        chosen = draw(st.lists(st.sampled_from(fields + ["remove"]), min_size=1, max_size=3, unique=True))
        if chosen == ["remove"]:
            chosen = ["remove", "sessionId"]
        for field in chosen:
            if field == "remove":
                del body[draw(st.sampled_from(["sessionId", "applicationId", "timestamp"]))]
            else:
                body[field] = draw(invalid_value(field, genuine))
        new_keys = st.text(max_size=10).filter(lambda key: key not in genuine)
        junk = st.dictionaries(new_keys, st.integers(), max_size=2)
        body.update(draw(junk))
        return "broken_field", json.dumps(body).encode()  # Infinity included: Python's json reads it

    @st.composite
    def well_formed_but_wrong(draw) -> tuple[str, bytes]:
        # Only one field differs, and it has the right shape: the session, application or time is not ours.
        day = 86400
        wrong = {
            "sessionId": st.builds(lambda: str(uuid.uuid4())),
            "applicationId": st.from_regex(r"[A-Za-z0-9_.:-]{1,30}", fullmatch=True).filter(
                lambda v: v != genuine["applicationId"]),
            "timestamp": st.floats(min_value=day, max_value=1e6 * day).flatmap(
                lambda d: st.sampled_from([genuine["timestamp"] - d, genuine["timestamp"] + d])),
        }
        field = draw(st.sampled_from(sorted(wrong)))
        value = draw(wrong[field])
        return "well_formed_but_wrong", json.dumps({**genuine, field: value}).encode()

    garbage = raw_bodies(fields).map(lambda raw: ("garbage", raw))
    guessed = st.just(("guessed_secret", json.dumps(genuine).encode()))
    return st.one_of(broken(), well_formed_but_wrong(), well_formed_but_wrong(), garbage, guessed)


def test_hostile_callbacks_are_refused_and_change_nothing(pending, record_figure):
    sandbox, session, path, genuine = pending
    before = snapshot(sandbox, genuine["identityId"])
    rows_before = db_rows()
    tried: Counter[str] = Counter()

    @hsettings(max_examples=90, **EXAMPLES)
    @given(attack=hostile_callbacks(genuine), guess=st.sampled_from([False] * 3 + [True]),
           method=st.sampled_from(["POST"] * 8 + ["GET", "PUT", "DELETE"]), content_type=CONTENT_TYPES,
           meta=HOSTILE_META)
    def attack_once(attack, guess, method, content_type, meta):
        kind, body = attack
        guessed = reverse("django_civic:proofing-callback", args=[uuid.uuid4().hex + "A" * 11])
        target = guessed if guess or kind == "guessed_secret" else path
        response = post(target, body, method=method, content_type=content_type, **latin1(meta))
        tried[assert_json_error(response, codes=REFUSALS)["error"]] += 1
        assert db_rows() == rows_before
        assert snapshot_rows() == before[:3]

    attack_once()
    assert snapshot(sandbox, genuine["identityId"]) == before  # GIPS never asked about the identity
    record_figure("hostile_input.idemia_callback", cases=sum(tried.values()), refusals=dict(tried),
                  accepted=0, rows_written=0, gips_calls=0)

    # The genuine callback, after all that: accepted, fetched from GIPS, verified.
    response = post(path, json.dumps(genuine).encode())
    assert response.status_code == 204 and response.content == b""
    session.refresh_from_db()
    assert session.status == ProofingSession.Status.VERIFIED


def test_a_secret_that_is_not_a_slug_never_reaches_the_view(pending):
    sandbox, session, path, genuine = pending
    before = snapshot(sandbox, genuine["identityId"])
    for secret in ("..%2F..%2Fadmin", "a b", "%00", "a/b", "é" * 10):
        response = post(f"/civic/proofing/callback/{secret}/", json.dumps(genuine).encode())
        assert response.status_code == 404  # Django's URL resolver: no view, nothing to write
    assert snapshot(sandbox, genuine["identityId"]) == before
