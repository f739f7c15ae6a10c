"""URLs of the JSON API, included by ``django_civic.urls`` under ``civic/`` (namespace ``django_civic``)."""

from django.urls import include, path

from .me import MeIdentityView, MeView
from .sip import SIPExchangeView

urlpatterns = [
    path("sip/exchange/", SIPExchangeView.as_view(), name="sip_exchange"),
    path("me/", MeView.as_view(), name="me"),
    path("me/identities/<int:pk>/", MeIdentityView.as_view(), name="me_identity"),
    path("auth/", include("django_civic.api.civic_auth")),  # Civic Auth: nonce/, token/
]
