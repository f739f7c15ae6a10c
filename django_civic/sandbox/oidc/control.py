"""Control API of the oidc sandbox."""

urlpatterns: list = []
