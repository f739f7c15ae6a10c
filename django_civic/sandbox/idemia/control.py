"""Control API of the idemia sandbox."""

urlpatterns: list = []
