"""Input and output shapes of the API.

Input serializers validate untrusted JSON into plain values (a bad field is a 400 ``invalid`` with the
messages by field); output serializers decide exactly which fields leave the server.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from django_civic.api.openapi import extend_schema_field
from django_civic.core.redirects import MAX_NEXT_LENGTH
from django_civic.protocols.sip import SCOPE_REQUESTS

# A compact JWS: three base64url parts. Civic's auth codes are about 600 characters.
_JWT_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
MAX_TOKEN_LENGTH = 4096


def looks_like_jwt(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_LENGTH and bool(_JWT_RE.match(value))


def sip_exchange_input(data: Any) -> dict[str, Any]:
    """``{"token": "<auth code JWT>", "scope": "BASIC_SIGNUP", "next": "/profile/"}``, validated.

    Returns the fields present (``token`` stripped); raises DRF's ``ValidationError`` with the messages by
    field, as a serializer would. Written out rather than as a ``Serializer``: building one costs about
    0.1 ms per login, a twentieth of the whole server cost of a Civic login (``make bench``, row 2).

    ``token`` may instead come in the ``Authorization`` header (the view looks there). Its format is only
    checked loosely here; the backend verifies it properly. ``next`` is not validated for safety here:
    an unsafe ``next`` is not an error, it is replaced by the default redirect.
    """
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": [_NOT_AN_OBJECT]})
    errors: dict[str, list[Any]] = {}
    clean: dict[str, Any] = {}
    for name, max_length, strip in (("token", MAX_TOKEN_LENGTH, True), ("next", MAX_NEXT_LENGTH, False)):
        if name not in data:
            continue
        value = data[name]
        # As DRF's CharField: numbers are taken as their text, anything else is not a string.
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            errors[name] = [_NOT_A_STRING]
            continue
        value = str(value).strip() if strip else str(value)
        if len(value) > max_length:
            errors[name] = [_TOO_LONG.format(max_length=max_length)]
        elif strip and not value:
            errors[name] = [_BLANK]
        else:
            clean[name] = value
    if "scope" in data:
        if isinstance(data["scope"], str) and data["scope"] in SCOPE_REQUESTS:
            clean["scope"] = data["scope"]
        else:
            errors["scope"] = [_UNKNOWN_SCOPE]
    if errors:
        raise serializers.ValidationError(errors)
    return clean


_NOT_AN_OBJECT = _("Send a JSON object.")
_NOT_A_STRING = _("Not a valid string.")
_TOO_LONG = _("Ensure this field has no more than {max_length} characters.")
_BLANK = _("This field may not be blank.")
_UNKNOWN_SCOPE = _("Not a known Civic scope.")


# The user's primary key: an integer for Django's User, a string for a UUID or character key.
_PRIMARY_KEY = {"oneOf": [{"type": "integer"}, {"type": "string"}]}


class UserSerializer(serializers.Serializer):
    """The few user fields a client needs; never the password hash or permission flags."""

    id = serializers.SerializerMethodField()
    username = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()

    @extend_schema_field(_PRIMARY_KEY)
    def get_id(self, user: Any) -> Any:
        return user.pk

    def get_username(self, user: Any) -> str:
        return user.get_username()

    def get_email(self, user: Any) -> str:
        field = get_user_model().get_email_field_name()
        return getattr(user, field, "") or ""


class AttributeSerializer(serializers.Serializer):
    """A verified attribute, from the SIP client (``Attribute``) or the database (``VerifiedAttribute``)."""

    # DRF's metaclass moves declared fields out of the class, so these do not shadow Field.label or
    # Serializer.is_valid; mypy, which does not run it, sees them as overrides.
    label = serializers.CharField()  # type: ignore[assignment]
    value = serializers.CharField()
    is_valid = serializers.BooleanField()  # type: ignore[assignment]
    is_owner = serializers.BooleanField()


class StoredAttributeSerializer(AttributeSerializer):
    """A ``VerifiedAttribute`` row. Images (document scans, portraits) are large and sensitive: their value
    is left out (``null``) unless the serializer's context says ``include_images``."""

    value = serializers.SerializerMethodField()  # type: ignore[assignment]  # a field for a field
    label_display = serializers.CharField()  # the human name, from the one label catalogue
    is_image = serializers.BooleanField()
    value_size = serializers.IntegerField()
    scope = serializers.CharField()
    first_verified_at = serializers.DateTimeField()
    last_verified_at = serializers.DateTimeField()

    def get_value(self, row: Any) -> str | None:
        if row.is_image and not self.context.get("include_images"):
            return None
        return row.value


class IdentitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    provider = serializers.CharField()
    provider_display = serializers.CharField()  # Civic SIP, Civic Auth or IDEMIA
    subject = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)
    attributes = serializers.SerializerMethodField()

    @extend_schema_field(StoredAttributeSerializer(many=True))
    def get_attributes(self, identity: Any) -> list[dict[str, Any]]:
        rows = sorted(identity.attributes.all(), key=lambda row: row.label)
        # many=True makes a ListSerializer, whose data is a list; the stubs give the class's own ReturnDict.
        data = StoredAttributeSerializer(rows, many=True, context=self.context).data
        return cast(list[dict[str, Any]], data)


# The shapes below only describe requests and responses in the OpenAPI schema (django_civic.api.openapi): the
# views validate and answer without them, for speed (sip_exchange_input, api.login.login_response).

class SIPExchangeInputSerializer(serializers.Serializer):
    token = serializers.CharField(required=False, max_length=MAX_TOKEN_LENGTH,
                                  help_text=_("The auth code from civic.sip.js (or send it in the "
                                              "Authorization header)."))
    scope = serializers.ChoiceField(choices=sorted(SCOPE_REQUESTS), required=False)
    next = serializers.CharField(required=False, allow_blank=True, max_length=MAX_NEXT_LENGTH,
                                 help_text=_("Where to go after the login; an unsafe URL is replaced."))


class LoginResponseSerializer(serializers.Serializer):
    login_mode = serializers.ChoiceField(choices=["session", "token", "jwt"], allow_null=True,
                                         help_text=_("CIVIC['API']['LOGIN_MODE']; null when a signed-in "
                                                     "person connected this login to their account."))
    connected = serializers.BooleanField(help_text=_("Whether the login was connected to the signed-in "
                                                     "account (nobody was logged in)."))
    token = serializers.CharField(required=False, help_text=_("Token mode: a DRF token."))
    access = serializers.CharField(required=False, help_text=_("JWT mode: a simplejwt access token."))
    refresh = serializers.CharField(required=False, help_text=_("JWT mode: a simplejwt refresh token."))
    user = UserSerializer()
    civic_user_id = serializers.CharField(help_text=_("The identity's subject at its provider."))
    user_created = serializers.BooleanField()
    attributes = AttributeSerializer(many=True, help_text=_("Every attribute stored for this identity."))
    next = serializers.CharField(help_text=_("A safe URL to go to now."))


class NonceSerializer(serializers.Serializer):
    nonce_id = serializers.CharField()
    nonce = serializers.CharField()
    expires_in = serializers.IntegerField(help_text=_("Seconds."))


class MeSerializer(serializers.Serializer):
    user = UserSerializer()
    identities = IdentitySerializer(many=True)


class UnlinkedSerializer(serializers.Serializer):
    deleted = serializers.BooleanField()
    id = serializers.IntegerField()


TOKEN_REQUIRED = _("Send the Civic auth code as \"token\" in the JSON body or in the Authorization header.")
