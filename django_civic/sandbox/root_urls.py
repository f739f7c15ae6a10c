"""URLconf of the stand-alone sandbox server: the sandbox's routes at the root, ungated (it runs outside
any site's settings; ``django_civic.sandbox.urls`` is the gated mount for a site)."""

from django.urls import include, path

urlpatterns = [path("", include("django_civic.sandbox.routes"))]
