"""IDEMIA proofing pages and callback, mounted by ``django_civic.urls`` at ``civic/proofing/``."""

from django.urls import path

from django_civic.idemia import views as proofing

urlpatterns = [
    path("", proofing.index, name="proofing"),
    path("start/", proofing.start, name="proofing-start"),
    path("callback/<slug:secret>/", proofing.callback, name="proofing-callback"),
    path("<uuid:public_id>/", proofing.session_page, name="proofing-session"),
    path("<uuid:public_id>/status/", proofing.status, name="proofing-status"),
    path("<uuid:public_id>/done/", proofing.done, name="proofing-done"),
]
