"""The site's identity-provider documents, at ``<issuer>.well-known/openid-configuration`` and
``<issuer>.well-known/jwks.json`` (mounted by ``django_civic.urls``). Both answer 404 while
``CIVIC["IDP"]["ISSUER"]`` is unset: a site that issues no tokens publishes nothing."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from django_civic.civic_auth import idp
from django_civic.conf import civic_settings


def _public(response: HttpResponse) -> HttpResponse:
    # Civic fetches these without credentials; a short max-age lets a rotation reach it soon.
    response["Cache-Control"] = f"public, max-age={int(civic_settings.IDP['JWKS_MAX_AGE'])}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _issuer() -> str:
    site_issuer = idp.issuer()
    if site_issuer is None:
        raise Http404
    return site_issuer


@require_GET
def discovery(request: HttpRequest) -> HttpResponse:
    return _public(JsonResponse(idp.discovery(_issuer())))


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    _issuer()
    return _public(JsonResponse(idp.jwks()))
