from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("civic/", include("django_civic.urls")),
    path("civic-sandbox/", include("django_civic.sandbox.urls")),
    path("", include("example_project.demo.urls")),
]
