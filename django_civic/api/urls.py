"""URLs of the provider-independent JSON API (the signed-in person's identities), included by ``django_civic.urls`` under ``civic/`` (namespace ``django_civic``)."""

from django.urls import path

from django_civic.api.me import MeIdentityView, MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("me/identities/<int:pk>/", MeIdentityView.as_view(), name="me_identity"),
]
