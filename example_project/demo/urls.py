from django.contrib.auth.views import LoginView, LogoutView
from django.urls import path

from . import civic_auth_views, hub_views, views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    # Django's LogoutView only accepts POST: a link or an <img> on another site cannot log people out.
    path("logout/", LogoutView.as_view(next_page="home"), name="logout"),
    path("api-demo/", civic_auth_views.api_demo, name="api_demo"),  # Civic Auth: bearer-token API demo
    path("api/whoami/", civic_auth_views.WhoAmI.as_view(), name="api_whoami"),
    # Civic's hub for every user: password users (federated exchange) and Civic Auth users alike.
    path("signup/", hub_views.signup, name="signup"),
    path("login/", LoginView.as_view(template_name="demo/login.html", next_page="hub"), name="login"),
    path("hub/", hub_views.hub, name="hub"),
]
