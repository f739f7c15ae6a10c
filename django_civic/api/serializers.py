"""Input and output shapes of the API.

Input serializers validate untrusted JSON into plain values (a bad field is a 400 ``invalid`` with the
messages by field); output serializers decide exactly which fields leave the server.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

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


class UserSerializer(serializers.Serializer):
    """The few user fields a client needs; never the password hash or permission flags."""

    id = serializers.SerializerMethodField()
    username = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()

    def get_id(self, user: Any) -> Any:
        return user.pk

    def get_username(self, user: Any) -> str:
        return user.get_username()

    def get_email(self, user: Any) -> str:
        field = get_user_model().get_email_field_name()
        return getattr(user, field, "") or ""


class AttributeSerializer(serializers.Serializer):
    """A verified attribute, from the SIP client (``Attribute``) or the database (``VerifiedAttribute``)."""

    label = serializers.CharField()
    value = serializers.CharField()
    is_valid = serializers.BooleanField()
    is_owner = serializers.BooleanField()


class StoredAttributeSerializer(AttributeSerializer):
    """A ``VerifiedAttribute`` row. Images (document scans, portraits) are large and sensitive: their value
    is left out (``null``) unless the serializer's context says ``include_images``."""

    value = serializers.SerializerMethodField()
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

    def get_attributes(self, identity: Any) -> list[dict[str, Any]]:
        rows = sorted(identity.attributes.all(), key=lambda row: row.label)
        return StoredAttributeSerializer(rows, many=True, context=self.context).data


TOKEN_REQUIRED = _("Send the Civic auth code as \"token\" in the JSON body or in the Authorization header.")
