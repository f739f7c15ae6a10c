"""``path("civic/", include("django_civic.urls"))``.

  sip/exchange/, me/, ...     JSON API (django_civic.api)
  auth/...                    Civic Auth (OIDC) browser views
  proofing/...                IDEMIA identity proofing pages and callback
"""

from django.urls import include, path

app_name = "django_civic"

urlpatterns = [
    path("", include("django_civic.api.urls")),
    path("auth/", include("django_civic.oidc_urls")),
    path("proofing/", include("django_civic.proofing_urls")),
]
