"""Test helpers for the sip sandbox, mixed into ``SandboxHandle``."""


class SIPHelpers:
    url: str
