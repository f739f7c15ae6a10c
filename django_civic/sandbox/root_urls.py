"""URLconf of the stand-alone sandbox server: the sandbox at the root."""

from django.urls import include, path

urlpatterns = [path("", include("django_civic.sandbox.urls"))]
