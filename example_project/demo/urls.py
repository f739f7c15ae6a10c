from django.contrib.auth.views import LogoutView
from django.urls import path

from . import civic_auth_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    # Django's LogoutView only accepts POST: a link or an <img> on another site cannot log people out.
    path("logout/", LogoutView.as_view(next_page="home"), name="logout"),
    path("api-demo/", civic_auth_views.api_demo, name="api_demo"),  # Civic Auth: bearer-token API demo
    path("api/whoami/", civic_auth_views.WhoAmI.as_view(), name="api_whoami"),
]
