"""URLs of the signed-in person's account (their identities).

Included by ``django_civic.urls`` under ``civic/``.
"""

from django.urls import path

from django_civic.account.api import MeIdentityView, MeView

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("me/identities/<int:pk>/", MeIdentityView.as_view(), name="me_identity"),
]
