"""IDEMIA proofing pages and callback."""

urlpatterns: list = []
