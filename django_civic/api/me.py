"""The current user's own identities.

``GET civic/me/``: the user and their identities with the verified attributes (image values left out).
``GET civic/me/identities/<id>/``: one identity, image values included.
``DELETE civic/me/identities/<id>/``: unlink one of them. Refused with 409 ``last_login_method`` when it
is the user's only way to log in (no usable password and no other identity to log in with), because the
account would be locked forever. Other users' identities answer 404, exactly like missing ones, so ids
cannot be probed.

Authentication: Django session (CSRF-checked for the DELETE by DRF), DRF token, simplejwt when installed,
plus whatever the site lists in ``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]`` (e.g. the Civic Auth
bearer class).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import JsonResponse
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.settings import api_settings

from .. import signals
from ..models import CivicIdentity
from .base import CivicAPIView
from .errors import error_response
from .serializers import IdentitySerializer, UserSerializer

# Identities that are a way to log in. IDEMIA identity proofing adds facts to an account, it is no login.
NON_LOGIN_PROVIDERS = frozenset({"idemia"})


def _authentication_classes() -> list[Any]:
    # Token first: its "WWW-Authenticate: Token" makes an anonymous request a 401, not a 403.
    classes: list[Any] = [TokenAuthentication]
    try:
        from rest_framework_simplejwt.authentication import JWTAuthentication
    except ImportError:
        pass
    else:
        classes.append(JWTAuthentication)
    classes.append(SessionAuthentication)
    for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES:
        if cls not in classes:
            classes.append(cls)
    return classes


class MeView(CivicAPIView):
    permission_classes = [IsAuthenticated]

    def get_authenticators(self) -> list[Any]:
        return [cls() for cls in _authentication_classes()]

    def get(self, request: Any) -> JsonResponse:
        identities = (CivicIdentity.objects.filter(user=request.user)
                      .prefetch_related("attributes").order_by("created_at", "pk"))
        return JsonResponse({
            "user": UserSerializer(request.user).data,
            "identities": IdentitySerializer(identities, many=True).data,
        })


class MeIdentityView(MeView):
    def get(self, request: Any, pk: int) -> JsonResponse:  # type: ignore[override]
        identity = (CivicIdentity.objects.filter(user=request.user, pk=pk)
                    .prefetch_related("attributes").first())
        if identity is None:
            return _not_found()
        return JsonResponse(IdentitySerializer(identity, context={"include_images": True}).data)

    def delete(self, request: Any, pk: int) -> JsonResponse:
        user = request.user
        with transaction.atomic():
            # Lock the user's identities so two concurrent unlinks cannot each see "one other left".
            identities = list(CivicIdentity.objects.select_for_update().filter(user=user).order_by("pk"))
            identity = next((row for row in identities if row.pk == pk), None)
            if identity is None:
                return _not_found()
            others = [row for row in identities if row.pk != pk and row.provider not in NON_LOGIN_PROVIDERS]
            if identity.provider not in NON_LOGIN_PROVIDERS and not others and not user.has_usable_password():
                return error_response(
                    "last_login_method",
                    _("This is the only way to log in to your account. Set a password or connect "
                      "another identity before removing it."),
                    409,
                )
            provider, subject = identity.provider, identity.subject
            identity.delete()
            # delete() clears the pk but keeps the other fields, as the signal's receivers expect.
            identity.provider, identity.subject = provider, subject
            transaction.on_commit(lambda: signals.identity_unlinked.send(
                sender=CivicIdentity, identity=identity, user=user, request=request._request))
        return JsonResponse({"deleted": True, "id": pk})


def _not_found() -> JsonResponse:
    return error_response("not_found", _("No such identity."), 404)
