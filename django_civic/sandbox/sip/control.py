"""Control API of the sip sandbox."""

urlpatterns: list = []
