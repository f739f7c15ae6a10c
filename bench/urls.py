"""The benchmark site: the Django admin and django_civic's URLs, as a user's site mounts them, plus one
view of its own: a bare session login (no credentials checked), the framework's share of any login,
which row 2 reports beside its figures."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_POST

BARE_LOGIN_USERNAME = "bench-bare-login"


@require_POST
def bare_session_login(request: HttpRequest) -> JsonResponse:
    user = get_user_model().objects.get(username=BARE_LOGIN_USERNAME)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return JsonResponse({"login_mode": "session"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("civic/", include("django_civic.urls")),
    path("bench/bare-session-login/", bare_session_login),
]
