"""The IDEMIA sandbox, under ``{base}idemia/`` (the index advertises these base URLs).

  oauth2/token                          Cognito-style client-credentials token        (TOKEN_URL)
  rp/api/v1/sessions                    rp-handler: create an IPA session (Bearer)    (RP_HANDLER_URL = rp/)
  rp/api/v1/ipa/start?session-id=...    the end user's journey (simulated)
  rp/api/v1/ipa/finish                  the journey's form target (sandbox only)
  gips/v1/identities/<id>               GIPS identity (apikey)                       (GIPS_URL = gips/)
  gips/v1/identities/<id>/proof         GIPS proof archive (apikey); closes the transaction
"""

from django.urls import path

from django_civic.sandbox.idemia import api, journey

urlpatterns = [
    path("oauth2/token", api.token, name="idemia-token"),
    path("rp/api/v1/sessions", api.create_session, name="idemia-create-session"),
    path("rp/api/v1/ipa/start", journey.start, name="idemia-start"),
    path("rp/api/v1/ipa/finish", journey.finish, name="idemia-finish"),
    path("gips/v1/identities/<str:identity_id>", api.identity, name="idemia-identity"),
    path("gips/v1/identities/<str:identity_id>/proof", api.proof, name="idemia-proof"),
]
