"""The per-process ``(issuer, sub) -> user`` cache of bearer authentication (``bearer_cache``).

A cached request makes no query; every change made in this process (deactivation, deletion, unlinking,
settings) takes effect at once; entries expire and the cache stays bounded; 0 disables it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from django_civic.civic_auth import bearer_cache
from django_civic.civic_auth.authentication import CivicAccessTokenAuthentication
from django_civic.civic_auth.bearer_cache import BearerUserCache, bearer_users
from django_civic.models import CivicIdentity

pytestmark = pytest.mark.django_db


class WhoAmI(APIView):
    authentication_classes = [CivicAccessTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"username": request.user.get_username(), "id": id(request.user)})


def call(token):
    request = APIRequestFactory().get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
    response = WhoAmI.as_view()(request)
    response.render()
    return response


@pytest.fixture
def alice(civic):
    user = get_user_model().objects.create_user("alice")
    CivicIdentity.objects.create(user=user, provider=civic.oidc_issuer, subject=civic.oidc_subject("alice"))
    return user


@pytest.fixture
def token(civic):
    return civic.mint_oidc_token(type="access")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_second_request_makes_no_query(civic, alice, token, django_assert_num_queries):
    with django_assert_num_queries(1):  # the identity and its user, in one query
        assert call(token).status_code == 200
    with django_assert_num_queries(0):
        response = call(token)
    assert response.status_code == 200 and response.data["username"] == "alice"


def test_requests_never_share_a_user_instance(civic, alice, token):
    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {token}")
    first, _ = CivicAccessTokenAuthentication().authenticate(request)
    second, _ = CivicAccessTokenAuthentication().authenticate(request)
    third, _ = CivicAccessTokenAuthentication().authenticate(request)
    assert first.pk == second.pk == third.pk == alice.pk
    assert len({id(first), id(second), id(third)}) == 3
    second.first_name = "changed by one request"
    assert third.first_name == ""
    fourth, _ = CivicAccessTokenAuthentication().authenticate(request)
    assert fourth.first_name == ""
    assert fourth._state is not third._state


def test_deactivating_the_user_takes_effect_at_once(civic, alice, token):
    assert call(token).status_code == 200
    alice.is_active = False
    alice.save()
    response = call(token)
    assert response.status_code == 401 and response.data["detail"].code == "no_active_account"


def test_deleting_the_user_takes_effect_at_once(civic, alice, token):
    assert call(token).status_code == 200
    alice.delete()
    assert call(token).status_code == 401


def test_deleting_the_identity_takes_effect_at_once(civic, alice, token):
    assert call(token).status_code == 200
    CivicIdentity.objects.get(user=alice).delete()
    response = call(token)
    assert response.status_code == 401 and response.data["detail"].code == "no_active_account"


def test_moving_the_identity_to_another_user_takes_effect_at_once(civic, alice, token):
    assert call(token).data["username"] == "alice"
    bob = get_user_model().objects.create_user("bob")
    identity = CivicIdentity.objects.get(user=alice)
    identity.user = bob
    identity.save()
    assert call(token).data["username"] == "bob"


def test_unlinking_through_the_api_takes_effect_at_once(civic, alice, token):
    CivicIdentity.objects.create(user=alice, provider="civic_sip", subject="alice-sip")
    assert call(token).status_code == 200
    browser = Client()
    browser.force_login(alice)
    oidc_identity = CivicIdentity.objects.get(user=alice, provider=civic.oidc_issuer)
    assert browser.delete(f"/civic/me/identities/{oidc_identity.pk}/").status_code == 200
    assert call(token).status_code == 401


def test_changing_civic_settings_empties_the_cache(civic, alice, token, settings):
    assert call(token).status_code == 200
    assert len(bearer_users) == 1
    settings.CIVIC = {**settings.CIVIC, "SIGNUP_OPEN": False}
    assert len(bearer_users) == 0


def test_a_change_without_signal_is_seen_after_the_ttl(civic, alice, token, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(bearer_users, "clock", clock)
    assert call(token).status_code == 200
    # QuerySet.update() sends no signal: the entry keeps the old state until it expires.
    get_user_model().objects.filter(pk=alice.pk).update(is_active=False)
    clock.now += 29
    assert call(token).status_code == 200
    clock.now += 1.5
    assert call(token).status_code == 401


def test_the_ttl_setting_is_honoured(civic, alice, token, monkeypatch, settings, django_assert_num_queries):
    settings.CIVIC = {**settings.CIVIC, "AUTH": {**settings.CIVIC.get("AUTH", {}),
                                                 "BEARER_USER_CACHE_SECONDS": 5}}
    clock = FakeClock()
    monkeypatch.setattr(bearer_users, "clock", clock)
    assert call(token).status_code == 200
    clock.now += 4.9
    with django_assert_num_queries(0):
        assert call(token).status_code == 200
    clock.now += 0.2
    with django_assert_num_queries(1):
        assert call(token).status_code == 200


def test_zero_disables_the_cache(civic, alice, token, settings, django_assert_num_queries):
    settings.CIVIC = {**settings.CIVIC, "AUTH": {**settings.CIVIC.get("AUTH", {}),
                                                 "BEARER_USER_CACHE_SECONDS": 0}}
    for _ in range(3):
        with django_assert_num_queries(1):
            assert call(token).status_code == 200
    assert len(bearer_users) == 0


def test_inactive_users_and_unknown_identities_are_not_cached(civic, alice):
    alice.is_active = False
    alice.save()
    assert call(civic.mint_oidc_token(type="access")).status_code == 401
    assert call(civic.mint_oidc_token(type="access", persona="bob")).status_code == 401
    assert len(bearer_users) == 0


def test_the_cache_is_bounded_and_drops_the_oldest():
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"u{i}") for i in range(5)])
    cache = BearerUserCache(max_entries=3, clock=FakeClock())
    for i, user in enumerate(users):
        cache.put("iss", f"sub{i}", user, 30, cache.generation())
    assert len(cache) == 3
    assert [cache.get("iss", f"sub{i}") is None for i in range(5)] == [True, True, False, False, False]
    assert cache.get("iss", "sub4").pk == users[4].pk
    cache.forget_user(users[3].pk)
    assert cache.get("iss", "sub3") is None and len(cache) == 2


def test_the_module_cache_has_the_documented_bound():
    assert bearer_users.max_entries == bearer_cache.MAX_ENTRIES == 10_000


def test_a_lookup_overtaken_by_an_invalidation_stores_nothing():
    user = get_user_model().objects.create_user("racer")
    cache = BearerUserCache(clock=FakeClock())
    generation = cache.generation()  # a request reads the database...
    cache.forget_user(user.pk)  # ...another thread changes the user meanwhile...
    cache.put("iss", "sub", user, 30, generation)  # ...the stale read must not be remembered
    assert cache.get("iss", "sub") is None
    cache.put("iss", "sub", user, 30, cache.generation())
    assert cache.get("iss", "sub").pk == user.pk
