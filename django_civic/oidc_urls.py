"""Civic Auth (OIDC) browser views, mounted by ``django_civic.urls`` at ``civic/auth/``."""

from django.urls import path

from .views import civic_auth

urlpatterns = [
    path("login/", civic_auth.login, name="civic_auth_login"),
    path("callback/", civic_auth.callback, name="civic_auth_callback"),
    path("logout/", civic_auth.logout, name="civic_auth_logout"),
]
