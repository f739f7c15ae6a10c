"""The benchmark site: the Django admin and django_civic's URLs, as a user's site mounts them."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("civic/", include("django_civic.urls")),
]
