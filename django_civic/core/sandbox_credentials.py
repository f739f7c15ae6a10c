"""The sandbox's fixed, documented credentials.

These are public test values, printed by ``python -m django_civic.sandbox`` and listed in the README.
They exist so a site with ``CIVIC = {"SANDBOX": True}`` needs no configuration; they must never be
used against Civic or IDEMIA (the system checks refuse the sandbox outside DEBUG). They live here, not in
the sandbox, because the site's clients send them in sandbox mode: production code never imports the
sandbox (``django_civic.sandbox.defaults`` re-exports them for the sandbox and for tests).
"""

# The key the sandbox signs as "Civic" with (auth codes and data tokens).
SIP_CIVIC_PRIVATE_KEY = "dd68d5b8554002bc687073eb2dddd4d9ff60de3ea5eb2be5144e9bd17a9515ff"
SIP_CIVIC_PUBLIC_KEY = (
    "0475344114776e00b42270bf8af1ebc4de44e2f32030e11ccbd3c55691f3097ac3"
    "aecf23a2c2aea7f887629ee109d8cfdf2e8e5bee4bb51629f7e567594eb07ef4"
)

# The default partner app, registered at start-up.
SIP_APP_ID = "sandbox-app"
SIP_APP_SECRET = "7C2EF4998E61DDBFC5F473949E50A157"
SIP_APP_PRIVATE_KEY = "a0a173b61ea5fcd21201144fb0e0aa88031232772405227ee12ee8e77a15e087"
SIP_APP_PUBLIC_KEY = (
    "04ffaf63cf3389f167d7cd809a3d167810a3bdc8a833afb98d79a44fb229c30190"
    "dc98a47ee3e6e4f32de9432a28445dee8dbc2a38ddacc07167a9bd0b4b65cbbb"
)

# Civic Auth (OIDC): the default registered client.
OIDC_CLIENT_ID = "sandbox-client"
OIDC_CLIENT_SECRET = "36GJyTu_y9-oquF9cgm0fYq6YF9vRE4E"

# IDEMIA: client credentials for the Cognito-style token endpoint, and the GIPS API key.
IDEMIA_CLIENT_ID = "sandbox-idemia-client"
IDEMIA_CLIENT_SECRET = "lXlqbHqaYz9GPGoZkHVEn13Ao4YP_-d_"
IDEMIA_API_KEY = "sandbox-gips-api-key"

# The sandbox's IPA application id, sent as ``applicationId`` in every callback.
IDEMIA_APPLICATION_ID = "sandbox-ipa-application"
