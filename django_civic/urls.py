"""``path("civic/", include("django_civic.urls"))``.

  sip/exchange/               Civic SIP's code exchange (django_civic.sip)
  auth/...                    Civic Auth: browser flow and JSON API (django_civic.civic_auth)
  proofing/...                IDEMIA identity proofing pages and callback (django_civic.idemia)
  me/, me/identities/<id>/    the signed-in person's identities (django_civic.account)
  api/schema/                 the OpenAPI schema of the JSON API, when drf-spectacular is installed
  .well-known/openid-configuration, .well-known/jwks.json
                              the site as an identity provider for Civic (django_civic.civic_auth.idp)
"""

from django.urls import URLPattern, URLResolver, include, path

from django_civic.api.openapi import INSTALLED as OPENAPI_INSTALLED

app_name = "django_civic"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("django_civic.sip.urls")),
    path("", include("django_civic.account.urls")),
    path("auth/", include("django_civic.civic_auth.urls")),
    path("proofing/", include("django_civic.idemia.urls")),
    path("", include("django_civic.civic_auth.idp_urls")),
]

if OPENAPI_INSTALLED:  # the openapi extra
    from django_civic.api.schema import CivicSchemaView

    urlpatterns.append(path("api/schema/", CivicSchemaView.as_view(), name="schema"))
