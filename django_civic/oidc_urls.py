"""Civic Auth (OIDC) browser views."""

urlpatterns: list = []
