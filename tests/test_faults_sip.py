"""Under faults: Civic SIP logins through the API while the sandbox injects every kind of fault.

For each fault (Civic throttling us, failing, its gateway timing out, not answering in time, answering too
slowly, answering garbage, answering with a forged signature, and the same on the S3 payload download of
large exchanges) the test checks, through ``POST civic/sip/exchange/`` as the browser's button calls it:

1. the user gets a clear answer: the expected status, a JSON error with a stable code and ``retryable``,
   and the sentence ``civic.js`` shows under the button (the ``detail``);
2. nothing is half-written: on a first login no user, identity or attribute exists afterwards; for a
   returning user every row is exactly as before (no new attribute, no touched timestamp);
3. once the fault clears, a new attempt (a new code, as the button gets one) succeeds, and a returning
   user logs back into the same account.

tests/test_api_sip.py maps single Civic statuses to error codes; this module adds the counts, the
returning user, recovery, latency and the payload channel, and publishes the figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import Client

from django_civic.models import CivicIdentity, VerifiedAttribute

URL = "/civic/sip/exchange/"
pytestmark = pytest.mark.django_db
User = get_user_model()

# What civic.js shows under the button for each answer (the server's translated ``detail``).
RATE_LIMITED = "Civic is busy right now. Please try again in a moment."
TOO_SLOW = "Civic did not answer in time. Please try again."
TROUBLE = "Civic is having trouble right now. Please try again."
UNAVAILABLE = "Sign-in with Civic is not available right now."

# Timing faults: our HTTP_TIMEOUT for the whole run, and how long the sandbox holds its answer.
TIMEOUT = 0.5  # far above a local round trip (milliseconds), even on a loaded machine
HELD = 2.0


@dataclass(frozen=True)
class Case:
    name: str
    faults: tuple[tuple[str, str, dict[str, Any]], ...]  # (channel, kind, options) queued in this order
    status: int
    code: str
    retryable: bool
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def _payload(kind: str, **options: Any) -> tuple[tuple[str, str, dict[str, Any]], ...]:
    """The large-payload variant: the exchange answers with an S3 URL, whose download suffers ``kind``."""
    return (("sip.exchange", "processed", {}), ("sip.payload", kind, options))


CASES = [
    Case("429", (("sip.exchange", "status", {"status": 429, "retry_after": 7}),), 503, "sip_rate_limited",
         True, RATE_LIMITED, {"Retry-After": "7"}),
    Case("500", (("sip.exchange", "status", {"status": 500}),), 502, "sip_upstream_error", True, TROUBLE),
    Case("504", (("sip.exchange", "status", {"status": 504}),), 504, "sip_gateway_timeout", True, TOO_SLOW),
    Case("timeout", (("sip.exchange", "timeout", {"seconds": HELD}),), 504, "sip_timeout", True, TOO_SLOW),
    Case("latency over HTTP_TIMEOUT", (("sip.exchange", "latency", {"delay": HELD}),), 504, "sip_timeout",
         True, TOO_SLOW),
    Case("malformed body", (("sip.exchange", "malformed", {}),), 502, "sip_malformed_response", False,
         UNAVAILABLE),
    Case("bad signature", (("sip.exchange", "bad_signature", {}),), 502, "sip_bad_signature", False,
         UNAVAILABLE),
    Case("signed by another key", (("sip.exchange", "wrong_key", {}),), 502, "sip_bad_signature", False,
         UNAVAILABLE),
    Case("payload 500", _payload("status", status=500), 502, "sip_upstream_error", True, TROUBLE),
    Case("payload timeout", _payload("timeout", seconds=HELD), 504, "sip_timeout", True, TOO_SLOW),
    # The payload is the bare data JWT as text: garbage there fails the token's verification.
    Case("payload malformed", _payload("malformed", status=200), 502, "sip_bad_signature", False,
         UNAVAILABLE),
    Case("payload bad signature", _payload("bad_signature"), 502, "sip_bad_signature", False, UNAVAILABLE),
]


@pytest.fixture
def sandbox(civic_sandbox, settings):
    caches["default"].clear()
    # Throttling off: the run makes ~50 exchanges from one IP (throttling has its own tests).
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True, HTTP_TIMEOUT=TIMEOUT,
                                                  API={"THROTTLE_RATE": None})
    return civic_sandbox


def rows() -> tuple:
    """Everything a login writes, in full: users, identities and attributes with their timestamps."""
    return (
        list(User.objects.order_by("pk").values("pk", "username", "email", "last_login")),
        list(CivicIdentity.objects.order_by("pk").values()),
        list(VerifiedAttribute.objects.order_by("pk").values(
            "pk", "identity_id", "label", "value_digest", "is_valid", "is_owner", "scope",
            "first_verified_at", "last_verified_at")),
    )


def log_in(browser: Client, sandbox, case: Case | None = None):
    for channel, kind, options in (case.faults if case else ()):
        sandbox.inject_fault(channel, kind, **options)
    code = sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"]
    return browser.post(URL, {"token": code, "scope": "BASIC_SIGNUP"}, content_type="application/json")


def check_refusal(case: Case, response, browser: Client) -> list[str]:
    """What is wrong with the answer to a failed login (empty when it is the clear answer we expect)."""
    problems = []
    if response.status_code != case.status:
        problems.append(f"status {response.status_code}, expected {case.status}: {response.content[:200]!r}")
    if response.get("Content-Type") != "application/json":
        return problems + [f"not JSON: {response.get('Content-Type')}"]
    body = response.json()
    expected = {"error": case.code, "detail": case.message, "retryable": case.retryable}
    if body != expected:
        problems.append(f"body {body}, expected {expected}")
    for name, value in case.headers.items():
        if response.get(name) != value:
            problems.append(f"header {name}: {response.get(name)!r}, expected {value!r}")
    if "_auth_user_id" in browser.session:
        problems.append("the browser is logged in")
    return problems


def test_every_fault_gives_a_clear_answer_writes_nothing_and_recovers(sandbox, record_figure):
    outcomes: dict[str, list[str]] = {}
    half_written = recovered = 0
    for case in CASES:
        problems = outcomes.setdefault(case.name, [])
        User.objects.all().delete()  # each case starts with nobody: its first login is a real first login

        # A first login under the fault: refused clearly, nobody created.
        browser = Client()
        problems += check_refusal(case, log_in(browser, sandbox, case), browser)
        if rows() != ([], [], []):
            half_written += 1
            problems.append(f"first login left rows behind: {rows()}")
        sandbox.clear_faults()

        # The fault clears: a new attempt logs in and creates the account.
        first = log_in(browser, sandbox)
        if first.status_code != 200 or not first.json().get("user_created"):
            problems.append(f"no recovery of the first login: {first.status_code} {first.content[:200]!r}")
            continue
        account = first.json()["user"]["id"]

        # A returning user under the same fault: refused clearly, every row untouched.
        before = rows()
        again = Client()
        problems += check_refusal(case, log_in(again, sandbox, case), again)
        if rows() != before:
            half_written += 1
            problems.append("the returning user's rows changed")
        sandbox.clear_faults()

        # And back into the same account once Civic is fine again.
        back = log_in(again, sandbox)
        if back.status_code != 200 or back.json()["user"]["id"] != account or back.json()["user_created"]:
            problems.append(f"no recovery of the returning user: {back.status_code} {back.content[:200]!r}")
            continue
        if User.objects.count() != 1 or CivicIdentity.objects.count() != 1:
            problems.append("recovery created a second account or identity")
            continue
        recovered += 1

    failed = {name: problems for name, problems in outcomes.items() if problems}
    assert not failed, failed
    assert half_written == 0 and recovered == len(CASES)
    record_figure("faults.sip_exchange", kinds=len(CASES), survived=len(CASES) - len(failed),
                  half_written=half_written, recovered=recovered,
                  tried=", ".join(case.name for case in CASES))


def test_latency_under_the_timeout_is_only_slower(sandbox):
    # One fault per request and channel: the S3 variant, itself late, then a late download.
    sandbox.inject_fault("sip.exchange", "processed", delay=TIMEOUT / 4)
    sandbox.inject_fault("sip.payload", "latency", delay=TIMEOUT / 4)
    response = log_in(Client(), sandbox)
    assert response.status_code == 200, response.content
    assert response.json()["user_created"] is True
    assert sandbox.control("GET", "faults")["pending"] == {}  # both delays were served, not skipped


def test_the_timeout_is_the_configured_one(sandbox, settings):
    """The same delay is a timeout under a short HTTP_TIMEOUT and a success under a longer one."""
    delay = 1.0
    settings.CIVIC = {**settings.CIVIC, "HTTP_TIMEOUT": delay / 4}
    sandbox.inject_fault("sip.exchange", "latency", delay=delay)
    refused = log_in(Client(), sandbox)
    assert refused.status_code == 504 and refused.json()["error"] == "sip_timeout"
    settings.CIVIC = {**settings.CIVIC, "HTTP_TIMEOUT": delay * 5}
    sandbox.inject_fault("sip.exchange", "latency", delay=delay)
    assert log_in(Client(), sandbox).status_code == 200


def test_a_database_failing_mid_write_leaves_no_user_without_identity_or_attributes(sandbox, monkeypatch):
    """The one fault the sandbox cannot inject: the database failing after the user and identity rows
    were written but before the attributes. ``record_identity`` runs in one transaction, so it all goes."""
    from django.contrib.auth import authenticate
    from django.db import OperationalError
    from django.db.models import QuerySet
    from django.test import RequestFactory

    real_bulk_create = QuerySet.bulk_create

    def failing_bulk_create(queryset, objs, *args, **kwargs):
        if queryset.model is VerifiedAttribute:
            assert User.objects.count() == 1 and CivicIdentity.objects.count() == 1  # mid-write indeed
            raise OperationalError("server closed the connection unexpectedly")
        return real_bulk_create(queryset, objs, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "bulk_create", failing_bulk_create)
    code = sandbox.mint_code("alice")["authToken"]
    with pytest.raises(OperationalError):
        authenticate(RequestFactory().post(URL), civic_sip_token=code)
    assert rows() == ([], [], [])

    monkeypatch.setattr(QuerySet, "bulk_create", real_bulk_create)
    assert log_in(Client(), sandbox).status_code == 200
    counts = User.objects.count(), CivicIdentity.objects.count(), VerifiedAttribute.objects.count()
    assert counts == (1, 1, 2)
