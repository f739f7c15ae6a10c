"""The cryptography a SIP code exchange cannot avoid, done directly with ``cryptography``: the floor.

Per exchange the client must sign its partner JWT (ES256), MAC the body (HMAC-SHA256), verify Civic's
data token (ES256) and decrypt the payload (AES-CBC). ``CryptoFloor`` does exactly that on inputs of
the real sizes, taken from a real exchange, and nothing else: no JSON, no Base64, no HTTP.
``RawRoundTrips`` adds the one thing no client can avoid either, a round trip over a socket, for context.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from django_civic.protocols.sip.crypto import b64url_decode, load_private_key, load_public_key
from django_civic.protocols.sip.tokens import partner_token

from .load import Prepared


class CryptoFloor:
    """One call of :meth:`exchange` = ES256 sign + ES256 verify + HMAC-SHA256 + AES-CBC decrypt."""

    def __init__(
        self,
        *,
        app_private_key: str,
        app_secret: str,
        civic_public_key: str,
        data_token: str,
        request_body: bytes,
        audience: str,
    ) -> None:
        self._app_key = load_private_key(app_private_key)
        self._civic_key = load_public_key(civic_public_key)
        self._mac_key = app_secret.encode("utf-8")
        self._aes_key = bytes.fromhex(app_secret)
        # What gets signed: a partner token's signing input, of the real length.
        self._to_sign = partner_token("x" * 11, self._app_key, audience).rsplit(".", 1)[0].encode("ascii")
        # What gets verified: Civic's real data token and its signature (DER, as cryptography wants it).
        signing_input, signature = data_token.rsplit(".", 1)
        raw = b64url_decode(signature)
        self._signed = signing_input.encode("ascii")
        self._der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        self._body = request_body
        # What gets decrypted: ciphertext of the real payload's size.
        self._iv = b"\x00" * 16
        padder = padding.PKCS7(128).padder()
        padded = padder.update(b"x" * (_ciphertext_size(data_token) - 1)) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self._aes_key), modes.CBC(self._iv)).encryptor()
        self._ciphertext = encryptor.update(padded) + encryptor.finalize()

    def sign(self) -> bytes:
        return self._app_key.sign(self._to_sign, ec.ECDSA(hashes.SHA256()))

    def mac(self) -> bytes:
        mac = crypto_hmac.HMAC(self._mac_key, hashes.SHA256())
        mac.update(self._body)
        return mac.finalize()

    def verify(self) -> None:
        self._civic_key.verify(self._der, self._signed, ec.ECDSA(hashes.SHA256()))

    def decrypt(self) -> bytes:
        decryptor = Cipher(algorithms.AES(self._aes_key), modes.CBC(self._iv)).decryptor()
        padded = decryptor.update(self._ciphertext) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(padded) + unpadder.finalize()

    def exchange(self) -> None:
        self.sign()
        self.mac()
        self.verify()
        self.decrypt()


def _ciphertext_size(data_token: str) -> int:
    """Bytes of AES ciphertext in a data token: its ``data`` claim minus the hex IV, un-Base64'd."""
    claims = json.loads(b64url_decode(data_token.split(".")[1]))
    return len(base64.b64decode(claims["data"][32:]))


_CONTENT_LENGTH = re.compile(rb"(?im)^content-length:[ \t]*([0-9]+)[ \t]*$")


class RawRoundTrips:
    """Each call sends the next of ``requests`` (all to one host) over one kept-alive socket and reads the
    answer with nothing but its framing: a round trip's unavoidable cost, without any HTTP library."""

    def __init__(self, requests: Sequence[Prepared]) -> None:
        parts = urlsplit(requests[0].url)
        self._sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._pending = iter([
            (f"POST {urlsplit(r.url).path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
             + "".join(f"{name}: {value}\r\n" for name, value in r.headers.items())
             + f"Content-Length: {len(r.body)}\r\n\r\n").encode("ascii") + r.body
            for r in requests
        ])

    def __call__(self) -> None:
        self._sock.sendall(next(self._pending))
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        length = _CONTENT_LENGTH.search(head)
        if not head.startswith(b"HTTP/1.1 200") or length is None:
            raise RuntimeError(f"unexpected answer: {head[:100]!r}")
        while len(body) < int(length[1]):
            body += self._sock.recv(65536)

    def close(self) -> None:
        self._sock.close()
