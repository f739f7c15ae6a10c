"""The demo's Civic Auth API page: call an API with the Civic access token of your Civic Auth login.

``/api-demo/`` shows the token this session got from Civic Auth (``CIVIC["AUTH"]["STORE_TOKENS"]``) and a
button whose script calls ``/api/whoami/`` with ``Authorization: Bearer <token>`` and no cookies, the way a
mobile app or an SPA would. ``/api/whoami/`` is a plain DRF view authenticated by
:class:`~django_civic.civic_auth.authentication.CivicAccessTokenAuthentication` only: the token is verified
locally against Civic's cached keys and mapped to the user.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from django_civic.civic_auth.authentication import CivicAccessTokenAuthentication
from django_civic.civic_auth.client import session_access_token
from django_civic.protocols.civic_auth import OIDCError


@never_cache
def api_demo(request: HttpRequest) -> HttpResponse:
    token = None
    if request.user.is_authenticated:
        try:
            token = session_access_token(request)
        except OIDCError:
            token = None
    return render(request, "demo/api_demo.html", {"access_token": token})


class WhoAmI(APIView):
    """``GET /api/whoami/`` with ``Authorization: Bearer <Civic access token>``."""

    authentication_classes = [CivicAccessTokenAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Any) -> Response:
        return Response({
            "username": request.user.get_username(),
            "email": request.user.email,
            "civic_sub": request.auth.subject,
            "scopes": request.auth.scopes,
        })
