"""The demo site's pages: a home page with the login buttons and a profile page with what was verified."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_civic.core.labels import attribute_label, provider_name
from django_civic.models import CivicIdentity

_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
# The first bytes of an image, in Base64: JPEG (FF D8 FF), PNG (89 50 4E 47).
_IMAGE_TYPES = {"/9j/": "image/jpeg", "iVBORw0KGgo": "image/png"}


@dataclass(frozen=True)
class AttributeRow:
    name: Any
    label: str
    value: str
    verified: bool
    is_valid: bool
    is_owner: bool
    image_src: str | None


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "demo/home.html")


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    identities = (CivicIdentity.objects.filter(user=request.user)
                  .prefetch_related("attributes").order_by("created_at", "pk"))
    return render(request, "demo/profile.html", {
        "identities": [
            {"identity": identity,
             "provider_name": provider_name(identity.provider),
             "rows": [_row(attribute)
                      for attribute in sorted(identity.attributes.all(), key=lambda a: a.label)]}
            for identity in identities
        ],
    })


def _row(attribute: Any) -> AttributeRow:
    image_src = _image_data_url(attribute.value) if attribute.is_image else None
    return AttributeRow(
        name=attribute_label(attribute.label),
        label=attribute.label,
        # An image that is not one we recognise is not shown at all, not even as text.
        value="" if attribute.is_image else attribute.value,
        verified=attribute.verified,
        is_valid=attribute.is_valid,
        is_owner=attribute.is_owner,
        image_src=image_src,
    )


def _image_data_url(value: str) -> str | None:
    """A ``data:`` URL for a Base64 JPEG or PNG, or None for anything else (never an arbitrary URL)."""
    compact = "".join(value.split())
    if not compact or not _BASE64.match(compact):
        return None
    for prefix, mime in _IMAGE_TYPES.items():
        if compact.startswith(prefix):
            return f"data:{mime};base64,{compact}"
    return None
