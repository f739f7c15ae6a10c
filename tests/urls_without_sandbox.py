"""A production URLconf: the example project's without the sandbox mount (test_checks.py, E008)."""

from django.urls import include, path

urlpatterns = [path("civic/", include("django_civic.urls"))]
