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

from ..redirects import MAX_NEXT_LENGTH
from ..sip import SCOPE_REQUESTS

# A compact JWS: three base64url parts. Civic's auth codes are about 600 characters.
_JWT_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
MAX_TOKEN_LENGTH = 4096


def looks_like_jwt(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_LENGTH and bool(_JWT_RE.match(value))


class SIPExchangeInput(serializers.Serializer):
    """``{"token": "<auth code JWT>", "scope": "BASIC_SIGNUP", "next": "/profile/"}``.

    ``token`` may instead come in the ``Authorization`` header (the view merges it in). Its format is only
    checked loosely here; the backend verifies it properly. ``next`` is not validated for safety here:
    an unsafe ``next`` is not an error, it is replaced by the default redirect.
    """

    token = serializers.CharField(required=False, trim_whitespace=True, max_length=MAX_TOKEN_LENGTH)
    scope = serializers.ChoiceField(choices=sorted(SCOPE_REQUESTS), required=False)
    next = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                 max_length=MAX_NEXT_LENGTH)


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
    subject = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_login = serializers.DateTimeField(allow_null=True)
    attributes = serializers.SerializerMethodField()

    def get_attributes(self, identity: Any) -> list[dict[str, Any]]:
        rows = sorted(identity.attributes.all(), key=lambda row: row.label)
        return StoredAttributeSerializer(rows, many=True, context=self.context).data


TOKEN_REQUIRED = _("Send the Civic auth code as \"token\" in the JSON body or in the Authorization header.")
