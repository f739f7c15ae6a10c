"""URLs of the signed-in person's account, included by ``django_civic.urls`` under ``civic/``.

``account/login/``, ``account/logout/``, ``account/connections/``, ``account/profile/``: the pages
(``LOGIN_URL = "django_civic:login"``, ``LOGIN_REDIRECT_URL = "django_civic:profile"``); ``me/``: the API.
"""

from django.urls import path

from django_civic.account import views
from django_civic.account.api import MeIdentityView, MeView

urlpatterns = [
    path("account/login/", views.LoginView.as_view(), name="login"),
    path("account/logout/", views.LogoutView.as_view(), name="logout"),
    path("account/connections/", views.connections, name="connections"),
    path("account/profile/", views.profile, name="profile"),
    path("me/", MeView.as_view(), name="me"),
    path("me/identities/<int:pk>/", MeIdentityView.as_view(), name="me_identity"),
]
