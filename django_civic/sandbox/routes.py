"""The sandbox's routes, ungated: the stand-alone server (``root_urls``) serves these; a project
mounts them through ``django_civic.sandbox.urls``, which answers only while ``CIVIC["SANDBOX"]`` and
``DEBUG`` are on.

Layout under the sandbox's base URL:
  sip/{env}/scopeRequest/authCode, sip/js/..., sip/wallet/...   Civic SIP    (sandbox/sip/)
  oauth/...                                                      Civic Auth   (sandbox/oidc/)
  idemia/...                                                     IDEMIA IPA   (sandbox/idemia/)
  hub/mcp                                                        Civic's hub  (sandbox/hub/)
  control/...                                                    control API  (sandbox/control.py, each part)
"""

from django.urls import URLPattern, URLResolver, include, path

from django_civic.sandbox import control

app_name = "civic_sandbox"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", control.index, name="root"),
    path("control/", include(control.urlpatterns)),
    path("sip/", include("django_civic.sandbox.sip.urls")),
    path("oauth/", include("django_civic.sandbox.oidc.urls")),
    path("idemia/", include("django_civic.sandbox.idemia.urls")),
    path("hub/", include("django_civic.sandbox.hub.urls")),
]
