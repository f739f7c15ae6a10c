from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    # Django's LogoutView only accepts POST: a link or an <img> on another site cannot log people out.
    path("logout/", LogoutView.as_view(next_page="home"), name="logout"),
]
