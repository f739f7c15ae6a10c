"""Races with real threads on PostgreSQL (``make test-postgres``; skipped on SQLite, whose in-memory test
database is per connection).

Each thread has its own database connection and transaction, as two workers would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.cache import caches
from django.db import connection
from django.test import RequestFactory

from django_civic.core.identities import record_identity
from django_civic.exceptions import TokenReplayed
from django_civic.models import CivicIdentity, VerifiedAttribute
from django_civic.protocols.sip.types import Attribute

from .conftest import EMAIL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL (CIVIC_TEST_DB=postgres)"),
]
User = get_user_model()


def run_at_once(count: int, target: Callable[[int], Any]) -> list[Any]:
    """Run ``target(i)`` in ``count`` threads released together; return results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def attributes(email="racer@example.com"):
    return [Attribute(EMAIL, email, True, True), Attribute("documents.genericId.number", "X1", True, True)]


@pytest.mark.parametrize("threads", [2, 8])
def test_first_logins_of_one_subject_at_once_give_one_user_and_one_identity(threads):
    results = run_at_once(threads, lambda i: record_identity(
        provider="civic_sip", subject="racing-subject", attributes=attributes()))
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    assert len({r.user.pk for r in results}) == 1
    assert sum(r.identity_created for r in results) == 1 and sum(r.user_created for r in results) == 1
    # The losers' users were rolled back with their savepoints, not left behind.
    assert User.objects.count() == 1 and CivicIdentity.objects.count() == 1
    assert VerifiedAttribute.objects.count() == 2


def test_concurrent_logins_adding_new_labels_do_not_conflict():
    record_identity(provider="civic_sip", subject="known", attributes=attributes())
    results = run_at_once(6, lambda i: record_identity(
        provider="civic_sip", subject="known",
        attributes=[Attribute("contact.personal.phoneNumber", f"+1 555 01{i:02d}", True, True)]))
    assert not [r for r in results if isinstance(r, Exception)]
    assert VerifiedAttribute.objects.filter(label="contact.personal.phoneNumber").count() == 1


def test_racing_email_links_link_once_and_never_widen(settings):
    settings.CIVIC = {**settings.CIVIC, "LINK_BY_EMAIL": True}
    victim = User.objects.create_user("victim", email="racer@example.com", password="pw")
    results = run_at_once(4, lambda i: record_identity(
        provider="civic_sip", subject="linker", attributes=attributes()))
    assert not [r for r in results if isinstance(r, Exception)]
    assert {r.user.pk for r in results} == {victim.pk}
    assert User.objects.count() == 1 and CivicIdentity.objects.get().user_id == victim.pk


def test_different_subjects_with_one_email_stay_apart_when_linking_is_off():
    results = run_at_once(4, lambda i: record_identity(
        provider="civic_sip", subject=f"person-{i}", attributes=attributes()))
    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.user.pk for r in results}) == 4 and User.objects.count() == 4


def test_fifty_concurrent_replays_of_one_code_give_one_login(civic_sandbox, settings):
    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True)
    token = civic_sandbox.mint_code("alice")["authToken"]
    requests_ = [RequestFactory().post("/") for _ in range(50)]
    results = run_at_once(50, lambda i: authenticate(requests_[i], civic_sip_token=token))
    users = [r for r in results if r is not None and not isinstance(r, Exception)]
    assert len(users) == 1, [getattr(r, "civic_auth_error", None) for r in requests_]
    refused = [r.civic_auth_error for r in requests_ if hasattr(r, "civic_auth_error")]
    assert len(refused) == 49 and all(isinstance(e, TokenReplayed) for e in refused)
    assert User.objects.count() == 1


def test_twenty_first_logins_of_one_person_through_the_api_give_one_account(civic_sandbox, settings,
                                                                            record_figure):
    """20 browsers of one person finish the Civic flow at the same moment, each with its own auth code
    (the same persona and app, so the same SIP userId): every one is logged in, into one account."""
    from django.test import Client

    caches["default"].clear()
    settings.CIVIC = civic_sandbox.civic_settings(SANDBOX_ALLOW_WITHOUT_DEBUG=True,
                                                  API={"THROTTLE_RATE": None})
    threads = 20
    codes = [civic_sandbox.mint_code("alice", "BASIC_SIGNUP")["authToken"] for _ in range(threads)]
    browsers = [Client() for _ in range(threads)]
    responses = run_at_once(threads, lambda i: browsers[i].post(
        "/civic/sip/exchange/", {"token": codes[i], "scope": "BASIC_SIGNUP"},
        content_type="application/json"))

    errors = [r if isinstance(r, Exception) else (r.status_code, r.content[:200])
              for r in responses if isinstance(r, Exception) or r.status_code != 200]
    assert not errors, errors
    bodies = [r.json() for r in responses]
    assert len({body["user"]["id"] for body in bodies}) == 1
    assert sum(body["user_created"] for body in bodies) == 1
    assert all(b.session["_auth_user_id"] == str(bodies[0]["user"]["id"]) for b in browsers)
    assert User.objects.count() == 1 and CivicIdentity.objects.count() == 1
    assert VerifiedAttribute.objects.count() == 2
    record_figure("concurrency.first_login", threads=threads, logged_in=len(bodies), users=1, identities=1,
                  errors=len(errors))
