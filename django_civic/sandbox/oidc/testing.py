"""Test helpers for the oidc sandbox, mixed into ``SandboxHandle``."""


class OIDCHelpers:
    url: str
