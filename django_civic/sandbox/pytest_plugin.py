"""pytest plugin (registered through the ``pytest11`` entry point): the ``civic_sandbox`` fixture.

``civic_sandbox`` is a :class:`~django_civic.sandbox.testing.SandboxHandle` for a sandbox serving on a
free local port for the whole session; faults and state are reset after each test. Point your site
at it with ``settings.CIVIC = civic_sandbox.civic_settings()``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from django_civic.sandbox.testing import SandboxHandle


@pytest.fixture(scope="session")
def civic_sandbox_server() -> Iterator[str]:
    from django.conf import settings

    if not settings.configured:
        from django_civic.sandbox.__main__ import configure

        configure()
    from django_civic.sandbox.server import SandboxServer

    server = SandboxServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def civic_sandbox(civic_sandbox_server: str) -> Iterator[SandboxHandle]:
    handle = SandboxHandle(civic_sandbox_server)
    try:
        yield handle
    finally:
        handle.reset()
        handle.http.close()
