"""Civic Auth (OIDC) URLs, mounted by ``django_civic.urls`` at ``civic/auth/``: the browser flow
(login, callback, logout) and the JSON API for apps (nonce, token)."""

from django.urls import path

from django_civic.civic_auth import views
from django_civic.civic_auth.api import NonceView, TokenLoginView

urlpatterns = [
    path("login/", views.login, name="civic_auth_login"),
    path("callback/", views.callback, name="civic_auth_callback"),
    path("logout/", views.logout, name="civic_auth_logout"),
    path("nonce/", NonceView.as_view(), name="civic_auth_nonce"),
    path("token/", TokenLoginView.as_view(), name="civic_auth_token"),
]
