"""Test helpers for the idemia sandbox, mixed into ``SandboxHandle``."""


class IdemiaHelpers:
    url: str
