"""The demo site's pages: a home page with the login buttons and a profile page with what was verified."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from django_civic.account.views import image_data_url
from django_civic.core.labels import attribute_label, provider_name
from django_civic.models import CivicIdentity


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
    image_src = image_data_url(attribute.value) if attribute.is_image else None
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
