"""Serve the sandbox on its own port, in a thread (tests) or a process (``python -m django_civic.sandbox``).

The sandbox runs as a bare WSGI handler with its own URLconf and no middleware, so it behaves the same
whatever the host project's settings, middleware or URLconf are.
"""

from __future__ import annotations

import threading
from typing import Any, cast

from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

ROOT_URLCONF = "django_civic.sandbox.root_urls"


class SandboxHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = convert_exception_to_response(self._sandbox_response)

    def _sandbox_response(self, request: Any) -> Any:
        request.urlconf = ROOT_URLCONF
        response = self._get_response(request)  # type: ignore[attr-defined]  # BaseHandler's, not in the stubs
        # Civic's servers keep connections alive, and Django's server does so only for a response of
        # known length (without one it answers "Connection: close"): every client call would otherwise
        # pay for a new TCP connection, which Civic never charges it. CommonMiddleware would set it;
        # the sandbox runs without middleware.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response


class RequestHandler(WSGIRequestHandler):
    """Django's dev-server request handler, tuned for keep-alive clients.

    Also serves bench/'s app servers.
    """

    # wsgiref writes the headers and the body in separate sends; on a kept-alive connection Nagle's
    # algorithm then holds the body until the client's delayed ACK, about 40 ms per response.
    disable_nagle_algorithm = True
    # And buffer each response so that it leaves in one segment: the client then wakes once per response
    # instead of 2-4 times (measured with bench/: client CPU per exchange round trip 290-370 -> 240 us,
    # wall 3.7-7.5 -> 2.4-3.0 ms). wsgiref flushes after every body chunk, so streams still stream.
    wbufsize = 64 * 1024

    def handle_one_request(self) -> None:
        super().handle_one_request()
        # A response with no body chunks (HEAD) never triggers wsgiref's flush; send it before waiting
        # for the next request on this kept-alive connection.
        if not self.wfile.closed:
            self.wfile.flush()


class QuietRequestHandler(RequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's name
        pass


class SandboxServer:
    """A sandbox listening on ``host:port`` (port 0 picks a free one) in a daemon thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True) -> None:
        handler = QuietRequestHandler if quiet else RequestHandler
        self.httpd = ThreadedWSGIServer((host, port), handler, allow_reuse_address=True)
        self.httpd.daemon_threads = True
        self.httpd.set_app(SandboxHandler())
        # An AF_INET server's address is (host, port); the stubs allow every socket family's.
        self.host, self.port = cast(tuple[str, int], self.httpd.server_address[:2])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, with a trailing slash: ``http://127.0.0.1:PORT/``."""
        return f"http://{self.host}:{self.port}/"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="civic-sandbox", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)
