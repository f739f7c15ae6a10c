"""``path("civic/", include("django_civic.urls"))``.

  sip/exchange/               Civic SIP's code exchange (django_civic.sip)
  auth/...                    Civic Auth: browser flow and JSON API (django_civic.civic_auth)
  proofing/...                IDEMIA identity proofing pages and callback (django_civic.idemia)
  me/, me/identities/<id>/    the signed-in person's identities (django_civic.account)
  .well-known/openid-configuration, .well-known/jwks.json
                              the site as an identity provider for Civic (django_civic.civic_auth.idp)
"""

from django.urls import include, path

app_name = "django_civic"

urlpatterns = [
    path("", include("django_civic.sip.urls")),
    path("", include("django_civic.account.urls")),
    path("auth/", include("django_civic.civic_auth.urls")),
    path("proofing/", include("django_civic.idemia.urls")),
    path("", include("django_civic.civic_auth.idp_urls")),
]
