from django.urls import include, path

urlpatterns = [path("", include("example_project.urls"))]
