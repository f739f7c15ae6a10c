"""The Civic bearer scheme in the OpenAPI schema (drf-spectacular's extension; imported only with it)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension

from django_civic.civic_auth.authentication import CivicAccessTokenAuthentication


class CivicAccessTokenScheme(OpenApiAuthenticationExtension):
    target_class = CivicAccessTokenAuthentication
    name = "civicAccessToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A Civic Auth access token issued to this site (never an ID token), verified "
                           "against the provider's keys.",
        }
