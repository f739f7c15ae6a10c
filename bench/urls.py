"""The benchmark site: the Django admin and django_civic's URLs, as a user's site mounts them, plus two
JSON login views of its own for row 4: a password login (Django's ``authenticate()`` with the default
hasher, then ``login()``), the reference of a Civic login; and a bare session login (no credential
checked), the framework's share of any login, reported beside the figures."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import authenticate, get_user_model, login
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_POST

BARE_LOGIN_USERNAME = "bench-bare-login"


@require_POST
def bare_session_login(request: HttpRequest) -> JsonResponse:
    user = get_user_model().objects.get(username=BARE_LOGIN_USERNAME)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return JsonResponse({"login_mode": "session"})


@require_POST
def password_login(request: HttpRequest) -> JsonResponse:
    credentials = json.loads(request.body)
    user = authenticate(request, username=credentials["username"], password=credentials["password"])
    if user is None:
        return JsonResponse({"error": "login_failed"}, status=400)
    login(request, user)
    return JsonResponse({"login_mode": "session"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("civic/", include("django_civic.urls")),
    path("bench/bare-session-login/", bare_session_login),
    path("bench/password-login/", password_login),
]

if settings.PEERS:
    urlpatterns += [
        path("oidc/", include("mozilla_django_oidc.urls")),
        path("accounts/", include("allauth.urls")),
    ]
