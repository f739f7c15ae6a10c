"""The current user's own identities.

``GET civic/me/``: the user and their identities with the verified attributes (image values left out).
``GET civic/me/identities/<id>/``: one identity, image values included.
``DELETE civic/me/identities/<id>/``: unlink one of them. Refused with 409 ``last_login_method`` when it
is the user's only way to log in (no usable password and no other identity to log in with), because the
account would be locked forever. Other users' identities answer 404, exactly like missing ones, so ids
cannot be probed.

Authentication: DRF token, a Civic Auth access token (``Bearer``, when Civic Auth is configured), simplejwt
when installed, and the Django session (CSRF-checked for the DELETE by DRF). Named here, never taken from
``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``, whose default includes HTTP Basic: a password oracle
without a throttle. Every accepted credential is an unguessable token or a session, so there is nothing to
throttle against guessing.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated

from django_civic.api.base import CivicAPIView
from django_civic.api.errors import error_response
from django_civic.api.openapi import error_responses, extend_schema
from django_civic.api.serializers import IdentitySerializer, MeSerializer, UnlinkedSerializer, UserSerializer
from django_civic.civic_auth.authentication import CivicAccessTokenAuthentication
from django_civic.core.identities import NON_LOGIN_PROVIDERS, disconnect_identity
from django_civic.exceptions import CivicLoginError
from django_civic.models import CivicIdentity

__all__ = ["NON_LOGIN_PROVIDERS", "MeIdentityView", "MeView"]


def _authentication_classes() -> list[Any]:
    # Token first: its "WWW-Authenticate: Token" makes an anonymous request a 401, not a 403. The Civic
    # bearer class before simplejwt's: it passes on tokens that are not Civic's, simplejwt refuses them.
    classes: list[Any] = [TokenAuthentication, CivicAccessTokenAuthentication]
    try:
        from rest_framework_simplejwt.authentication import JWTAuthentication
    except ImportError:
        pass
    else:
        classes.append(JWTAuthentication)
    return [*classes, SessionAuthentication]


@extend_schema(methods=["GET"], tags=["Account"], responses={200: MeSerializer, **error_responses(401, 503)},
               description="The signed-in user and their identities with the verified attributes "
                           "(image values are null here).")
class MeView(CivicAPIView):
    authentication_classes = _authentication_classes()
    permission_classes = [IsAuthenticated]
    throttle_classes: list[Any] = []  # see the module docstring

    @sensitive_variables()  # the person's values
    def get(self, request: Any) -> JsonResponse:
        identities = (CivicIdentity.objects.filter(user=request.user)
                      .prefetch_related("attributes").order_by("created_at", "pk"))
        return JsonResponse({
            "user": UserSerializer(request.user).data,
            "identities": IdentitySerializer(identities, many=True).data,
        })


@extend_schema(methods=["GET"], tags=["Account"],
               responses={200: IdentitySerializer, **error_responses(401, 404, 503)},
               description="One of your identities, image values included; another user's is 404.")
@extend_schema(methods=["DELETE"], tags=["Account"],
               responses={200: UnlinkedSerializer, **error_responses(401, 403, 404, 409, 503)},
               description="Unlink one of your identities; 409 last_login_method when it is your only way "
                           "to log in. With the session, Django's CSRF check applies (403).")
class MeIdentityView(MeView):
    @sensitive_variables()  # the person's values, images included
    def get(self, request: Any, pk: int) -> JsonResponse:  # type: ignore[override]
        identity = (CivicIdentity.objects.filter(user=request.user, pk=pk)
                    .prefetch_related("attributes").first())
        if identity is None:
            return _not_found()
        return JsonResponse(IdentitySerializer(identity, context={"include_images": True}).data)

    def delete(self, request: Any, pk: int) -> JsonResponse:
        try:
            disconnect_identity(request.user, pk, request=request._request)
        except CivicLoginError as exc:
            return error_response(exc.code, exc.detail, exc.status)
        return JsonResponse({"deleted": True, "id": pk})


def _not_found() -> JsonResponse:
    return error_response("not_found", _("No such identity."), 404)
