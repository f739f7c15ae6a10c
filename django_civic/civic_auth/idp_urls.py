"""The site's identity-provider documents, mounted by ``django_civic.urls`` at the include's root, so the
issuer ``https://site/civic/`` has its discovery at ``civic/.well-known/openid-configuration``."""

from django.urls import path

from django_civic.civic_auth import idp_views

urlpatterns = [
    path(".well-known/openid-configuration", idp_views.discovery, name="idp_discovery"),
    path(".well-known/jwks.json", idp_views.jwks, name="idp_jwks"),
]
