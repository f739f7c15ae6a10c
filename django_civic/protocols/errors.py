"""What every protocol client's typed errors share (SIP, Civic Auth, IDEMIA: each has its own hierarchy).

Every error has a stable ``code`` (used in API responses, logs and stored sessions), whether trying again
later may work (``retryable``), the HTTP ``status`` that caused it if any, and a message that carries no
secret, token or personal data, so it is safe to log or show.
"""

from __future__ import annotations


class ProtocolError(Exception):
    code = "protocol_error"
    #: Whether trying again later may work (provider-side or network trouble).
    retryable = False

    def __init__(self, message: str = "", *, status: int | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.status = status


class RateLimited(ProtocolError):
    """The provider throttled us (HTTP 429); ``retry_after`` is the seconds it asked for, if it said."""

    retryable = True

    def __init__(self, message: str = "", *, status: int | None = 429,
                 retry_after: int | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
