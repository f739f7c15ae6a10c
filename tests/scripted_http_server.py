"""A scripted HTTP/1.1 server on a real socket, for the HTTP tests (tests/test_protocols_http.py): a
provider that misbehaves in ways the sandbox cannot, or a proxy.

Each request it reads (head, then ``Content-Length`` bytes of body) is recorded and answered with the next
step of its script: raw bytes to send (the connection then waits for the next request), or one of the
actions below. Nothing here parses or builds HTTP leniently: the bytes sent are exactly the script's,
so a test can send any malformed answer.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Close:
    """Read the request, then close the connection without answering (optionally after ``reply``)."""

    reply: bytes = b""


@dataclass(frozen=True)
class Hold:
    """Read the request and answer nothing until the test ends (a server that stopped responding)."""


Step = bytes | Close | Hold


def reply(body: bytes = b"ok", *, status: str = "200 OK", headers: Iterable[str] = ()) -> bytes:
    """A well-formed answer with a ``Content-Length``."""
    lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ScriptedServer:
    def __init__(self, script: Iterable[Step], *, tls: ssl.SSLContext | None = None) -> None:
        self._script = list(script)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def close_idle_connections(self) -> None:
        """Close every open connection (all wait for a request in these tests), as a server does when
        their keep-alive time ends; connections made afterwards are served as usual."""
        with self._lock:
            self._generation += 1
            threads = self._threads[1:]
        for thread in threads:
            thread.join(2)

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()

    # -- serving -----------------------------------------------------------------------------------------

    _generation = 0

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            if self._tls is not None:
                try:
                    conn = self._tls.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):  # the client refused our certificate
                    conn.close()
                    continue
            with self._lock:
                thread = threading.Thread(target=self._serve, args=(conn, self._generation), daemon=True)
                self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, generation: int) -> None:
        conn.settimeout(0.05)
        buffer = b""
        with conn:
            while not self._stop.is_set():
                request, buffer = self._read_request(conn, buffer, generation)
                if request is None:
                    return
                with self._lock:
                    self.requests.append(request)
                    step = self._script.pop(0) if self._script else Close()
                if isinstance(step, Hold):
                    self._stop.wait(30)
                    return
                if isinstance(step, Close):
                    conn.sendall(step.reply)
                    return
                conn.sendall(step)

    def _read_request(self, conn: socket.socket, buffer: bytes,
                      generation: int) -> tuple[bytes | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            chunk = self._recv(conn, generation)
            if not chunk:
                return None, b""
            buffer += chunk
        head, _, rest = buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = self._recv(conn, generation)
            if not chunk:
                return None, b""
            rest += chunk
        return head + b"\r\n\r\n" + rest[:length], rest[length:]

    def _recv(self, conn: socket.socket, generation: int) -> bytes:
        """The next bytes, or b"" when the peer closed, the server stops, or its connections are closed."""
        while not self._stop.is_set() and generation == self._generation:
            try:
                return conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return b""
        return b""
