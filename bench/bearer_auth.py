"""Row 5: DRF bearer authentication with a Civic access token, keys cached, against a bare JWT check.

Measured: ``CivicAccessTokenAuthentication().authenticate(request)`` for a request carrying a Civic access
token (from the sandbox's OIDC provider, in another process), once the provider's discovery document
and JWKS are in the cache: signature, issuer, audience, times, and the mapping of ``sub`` to an active
Django user. The provider's request counters are read before and after: the measured requests must
cause zero network calls.
Reference: a bare JWT signature verification, ``jwt.decode(token, key, algorithms=[alg])`` with the same
key and PyJWT's claim checks off. Target: at most 1.5x, and zero network calls.
"""

from __future__ import annotations

import json

from django_civic.sandbox.testing import SandboxHandle

from . import Options, log, processes, site
from .measure import per_op, side_by_side
from .results import RowResult, Target

KEY = "bearer_auth"
TITLE = "Bearer-token authentication per API request (keys cached)"
TARGET = Target("<=", 1.5, "at most 1.5x, 0 network calls")

_BARE = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


def run(options: Options) -> RowResult:
    rounds = options.pick(30, 3)
    batch = options.pick(100, 5)
    with processes.sandbox() as sandbox:
        handle = SandboxHandle(sandbox.info["base_url"])
        site.start(handle.url)

        import jwt
        from django.contrib.auth import get_user_model
        from rest_framework.test import APIRequestFactory

        from django_civic.civic_auth.authentication import CivicAccessTokenAuthentication
        from django_civic.models import CivicIdentity

        user = get_user_model().objects.create_user("bearer-person")
        CivicIdentity.objects.create(
            user=user, provider=handle.oidc_issuer, subject=handle.oidc_subject("alice")
        )
        token = handle.mint_oidc_token(type="access", persona="alice")
        request = APIRequestFactory().get("/api/whoami/", HTTP_AUTHORIZATION=f"Bearer {token}")
        authentication = CivicAccessTokenAuthentication()

        def authenticate() -> None:
            authenticated, _auth = authentication.authenticate(request)
            assert authenticated.pk == user.pk

        # The same key the class verifies with, straight from the provider's JWKS.
        header = jwt.get_unverified_header(token)
        jwks = handle.http.get(handle.oidc_issuer + "jwks", timeout=10).json()
        jwk = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid"))
        key = jwt.PyJWK(json.loads(json.dumps(jwk)), algorithm=header["alg"]).key

        def bare_verification() -> None:
            jwt.decode(token, key, algorithms=[header["alg"]], options=_BARE)

        authenticate()  # first request: discovery and JWKS are fetched and cached
        handle.clear_oidc_stats()
        log(
            f"{KEY}: {rounds} rounds of {batch} authentications vs {batch} bare {header['alg']} verifications"
        )
        result = side_by_side(
            lambda: per_op(authenticate, batch), lambda: per_op(bare_verification, batch), rounds
        )
        provider_calls = sum(handle.oidc_stats().values())

    row = RowResult.cpu_side_by_side(
        KEY,
        TITLE,
        result,
        unit="µs",
        target=TARGET,
        details={
            "network_calls_during_measurement": provider_calls,
            "algorithm": header["alg"],
            "requests_measured": rounds * batch,
        },
    )
    if provider_calls:
        row.status = "fail"
        row.note = f"{provider_calls} calls reached the provider during the measurement"
    return row
