"""The sandbox's hub, mounted at ``{base}hub/``: the endpoint ``{base}hub/mcp``, as ``/hub/mcp`` at Civic."""

from django.urls import path

from django_civic.sandbox.hub import views

urlpatterns = [path("mcp", views.mcp, name="hub_mcp")]
