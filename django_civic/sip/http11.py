"""One HTTP/1.1 request and its response over a socket we own (RFC 9112), strictly.

Only what the SIP client needs, and nothing is guessed: the request is written in one ``sendall``; the
response's status line and header fields must be well formed; the body is framed by ``Content-Length``
or ``chunked`` (or by the connection's end, and then the connection is not reused); a response with both,
or with another transfer coding, is refused (RFC 9112 6.1 and 6.3: such a message may be an attempt at
response splitting). Bodies are read under a size cap that holds for the declared length, the bytes
actually received and, for ``gzip``/``deflate`` content, the decoded size.

Why not ``http.client`` or h11: measured side by side in full SIP exchanges (docs/performance.md), each
cost about 120 µs of CPU per request more than this, more than the exchange's ECDSA signature and
verification together (``http.client`` parses header fields with the ``email`` package; h11 passes every
field through several layers of events, validation and state machines).
"""

from __future__ import annotations

import re
import socket
import zlib
from collections.abc import Callable, Mapping

_RECV = 64 * 1024
_MAX_HEAD = 64 * 1024  # status line and header fields together, as many servers limit requests
_MAX_FIELDS = 100  # http.client's limit
_MAX_LINE = 4096  # a chunk-size line or a trailer field
_MAX_INTERIM = 10  # 1xx answers before the final one

_STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?")
_FIELD = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):([\t\x20-\x7e\x80-\xff]*)")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?")
# What we send: header names are tokens, values visible ASCII and spaces (no CR or LF can end up in them).
_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\x20-\x7e]*")
_TARGET = re.compile(r"/[\x21-\x7e]*")
_NO_BODY_STATUSES = frozenset((204, 304))


class ProtocolError(Exception):
    """The peer broke HTTP/1.1 (or the body was cut short); ``kind`` names what, for messages."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class TooLarge(Exception):
    """The body is larger than the caller's limit."""


def request_bytes(method: str, target: str, host: str, fields: Mapping[str, str],
                  body: bytes | None) -> bytes:
    """The request as it goes on the wire. Raises ``ValueError`` for a field or target that could
    change the request's framing (a CR or LF, a space in the target, non-ASCII text)."""
    if not _TARGET.fullmatch(target):
        raise ValueError("the request target is not valid HTTP")
    for name, value in fields.items():
        if not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            raise ValueError("a header field is not valid HTTP")
    lines = "".join([f"{name}: {value}\r\n" for name, value in fields.items()])
    length = "" if body is None else f"Content-Length: {len(body)}\r\n"
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{lines}{length}\r\n".encode("ascii")
    return head + body if body else head


class Response:
    """The response on ``sock``, read up to its body when created. ``read`` the body (which hands the
    socket to ``release`` for reuse when the exchange ended cleanly) or ``close`` it (which drops it).

    Creating it raises :class:`ProtocolError` or ``OSError`` (the caller closes the socket then).
    """

    def __init__(self, sock: socket.socket, release: Callable[[socket.socket], None], *,
                 has_body: bool = True) -> None:
        self._sock = sock
        self._open = True  # until the body was read or the response closed
        self._release = release
        self._buffer = bytearray()
        self.status, self.headers, keep_alive = self._read_head()
        self._keep_alive = keep_alive
        self._has_body = has_body and self.status not in _NO_BODY_STATUSES

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    # -- the head ------------------------------------------------------------------------------------

    def _read_head(self) -> tuple[int, dict[str, str], bool]:
        for _ in range(_MAX_INTERIM + 1):
            end = self._fill_until(b"\r\n\r\n", _MAX_HEAD, "RemoteDisconnected")
            head = bytes(self._buffer[:end])
            del self._buffer[:end + 4]
            status, headers, keep_alive = _parse_head(head)
            # Interim answers (100 Continue, 103 Early Hints) precede the real one; 101 would switch
            # protocols, which we never ask for.
            if status >= 200:
                return status, headers, keep_alive
            if status == 101:
                raise ProtocolError("UnexpectedSwitchingProtocols")
        raise ProtocolError("TooManyInterimResponses")

    # -- the body ------------------------------------------------------------------------------------

    def read(self, limit: int) -> bytearray:
        """The whole body, decoded from ``gzip``/``deflate`` if so sent, of at most ``limit`` bytes.

        Raises :class:`TooLarge`, :class:`ProtocolError` or ``OSError``; the connection is then closed.
        """
        if not self._open:
            raise ProtocolError("ResponseClosed")
        completed = False
        try:
            body, reusable = self._read_body(limit)
            coding = self.headers.get("content-encoding")
            if coding is not None and coding.strip().lower() != "identity":
                body = _decode(coding.strip().lower(), body, limit)
            completed = True
        finally:
            if not completed:
                self.close()
        self._open = False
        if reusable and self._keep_alive and not self._buffer:
            self._release(self._sock)
        else:  # bytes after the body, or framing by the connection's end: nothing more can follow
            self._sock.close()
        return body

    def _read_body(self, limit: int) -> tuple[bytearray, bool]:
        """The body as sent (at most ``limit`` bytes) and whether the connection may carry another request."""
        if not self._has_body:
            return bytearray(), True
        transfer = self.headers.get("transfer-encoding")
        if transfer is not None:
            if "content-length" in self.headers:
                raise ProtocolError("ContentLengthWithTransferEncoding")
            if transfer.strip().lower() != "chunked":
                raise ProtocolError("UnsupportedTransferEncoding")
            return self._read_chunked(limit), True
        length = _content_length(self.headers.get("content-length"))
        if length is None:
            return self._read_to_end(limit), False
        return self._read_exactly(length, limit), True

    def _read_exactly(self, length: int, limit: int) -> bytearray:
        """``length`` bytes into one buffer of that size (a 6 MB payload is held once, not as pieces)."""
        if length > limit:
            raise TooLarge()
        body = bytearray(length)
        have = min(length, len(self._buffer))
        body[:have] = self._buffer[:have]
        del self._buffer[:have]
        view = memoryview(body)
        while have < length:
            received = self._sock.recv_into(view[have:], min(length - have, _RECV * 4))
            if not received:
                raise ProtocolError("IncompleteRead")
            have += received
        return body

    def _read_chunked(self, limit: int) -> bytearray:
        body = bytearray()
        while True:
            match = _CHUNK_SIZE.fullmatch(self._line())
            if match is None:
                raise ProtocolError("InvalidChunkLength")
            size = int(match[1], 16)
            if size == 0:
                break
            body += self._read_exactly(size, limit - len(body))
            if self._line() != b"":
                raise ProtocolError("InvalidChunkEnd")
        for _ in range(_MAX_FIELDS + 1):  # trailer fields, ignored, up to the empty line
            if self._line() == b"":
                return body
        raise ProtocolError("TooManyTrailers")

    def _read_to_end(self, limit: int) -> bytearray:
        body, self._buffer = self._buffer, bytearray()
        while len(body) <= limit:
            received = self._sock.recv(_RECV)
            if not received:
                return body
            body += received
        raise TooLarge()

    # -- buffered reading ----------------------------------------------------------------------------

    def _line(self) -> bytes:
        end = self._fill_until(b"\r\n", _MAX_LINE, "IncompleteRead")
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 2]
        return line

    def _fill_until(self, separator: bytes, limit: int, eof_kind: str) -> int:
        """Receive until ``separator`` is buffered within ``limit`` bytes; return its position."""
        start = 0
        while True:
            end = self._buffer.find(separator, start)
            if end >= 0:
                if end > limit:
                    break
                return end
            if len(self._buffer) > limit:
                break
            start = max(0, len(self._buffer) - len(separator) + 1)
            received = self._sock.recv(_RECV)
            if not received:
                raise ProtocolError(eof_kind)
            self._buffer += received
        raise ProtocolError("HeaderTooLong" if separator == b"\r\n\r\n" else "LineTooLong")

    def close(self) -> None:
        """Drop the connection: unread bytes must never be taken for the next request's answer."""
        if self._open:
            self._open = False
            self._sock.close()


def _parse_head(head: bytes) -> tuple[int, dict[str, str], bool]:
    lines = head.split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise ProtocolError("BadStatusLine")
    if len(lines) > _MAX_FIELDS + 1:
        raise ProtocolError("TooManyHeaders")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        field = _FIELD.fullmatch(line)
        if field is None:  # also refuses obsolete line folding (a line starting with a space)
            raise ProtocolError("InvalidHeader")
        name, value = field[1].decode("ascii").lower(), field[2].strip(b" \t").decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    keep_alive = match[1] == b"1" and "close" not in _tokens(headers.get("connection"))
    return int(match[2]), headers, keep_alive


def _tokens(value: str | None) -> list[str]:
    return [token.strip().lower() for token in value.split(",")] if value else []


def _content_length(value: str | None) -> int | None:
    """The declared length; repeated identical values are one (RFC 9110 8.6), anything else an error."""
    if value is None:
        return None
    if value.isdigit() and value.isascii() and len(value) <= 18:
        return int(value)
    values = {part.strip() for part in value.split(",")}
    if len(values) != 1:
        raise ProtocolError("InvalidContentLength")
    text = values.pop()
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        raise ProtocolError("InvalidContentLength")
    return int(text)


def _decode(coding: str, body: bytearray, limit: int) -> bytearray:
    """``gzip``/``deflate`` content (which urllib3 decoded too), at most ``limit`` bytes once decoded:
    ``max_length`` stops zlib there, so a small compressed body cannot expand into a large one."""
    formats: tuple[int, ...]
    if coding in ("gzip", "x-gzip"):
        formats = (16 + zlib.MAX_WBITS,)
    elif coding == "deflate":  # zlib-wrapped as the RFC says, or raw deflate as some servers send
        formats = (zlib.MAX_WBITS, -zlib.MAX_WBITS)
    else:
        raise ProtocolError("UnsupportedContentEncoding")
    if not body:
        return body
    for wbits in formats:
        decompressor = zlib.decompressobj(wbits)
        try:
            decoded = decompressor.decompress(body, limit + 1)
        except zlib.error:
            continue
        if len(decoded) > limit or decompressor.unconsumed_tail:
            raise TooLarge()
        if not decompressor.eof or decompressor.unused_data:  # cut short, or something after the end
            raise ProtocolError("DecodeError")
        return bytearray(decoded)
    raise ProtocolError("DecodeError")
