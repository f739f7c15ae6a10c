"""Civic SIP's URL, mounted by ``django_civic.urls`` at ``civic/``: the code exchange."""

from django.urls import path

from django_civic.sip.api import SIPExchangeView

urlpatterns = [
    path("sip/exchange/", SIPExchangeView.as_view(), name="sip_exchange"),
]
