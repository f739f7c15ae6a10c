"""The sandbox's Civic Auth (OIDC) provider, mounted at ``{base}oauth/`` (issuer ``{base}oauth/``)."""

from django.urls import path

from django_civic.sandbox.oidc import views

urlpatterns = [
    path(".well-known/openid-configuration", views.discovery, name="oidc_discovery"),
    path("auth", views.authorize, name="oidc_authorize"),
    path("token", views.token, name="oidc_token"),
    path("jwks", views.jwks, name="oidc_jwks"),
    path("userinfo", views.userinfo, name="oidc_userinfo"),
    path("session/end", views.end_session, name="oidc_end_session"),
]
