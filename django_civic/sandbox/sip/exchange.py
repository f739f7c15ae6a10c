"""``POST {base}sip/{env}/scopeRequest/authCode``: Civic's code exchange, and the S3-style payload URL.

The answer is built exactly as civic-protocols.md A4 describes, with the same primitives our client
uses (``django_civic.protocols.sip.crypto`` and ``tokens``), so both sides of the wire agree by construction:
``{"data": <ES256 JWT, 1800 s>, "userId": <64 hex>, "encrypted": true, "alg": "aes"}`` where the JWT's
``data`` claim is ``hex(iv)`` + Base64(AES-CBC(payload, key = hex-decoded app secret)).

Faults (``control/faults``): channel ``sip.exchange`` takes the generic kinds plus ``bad_signature``,
``wrong_key``, ``processed`` and ``large_payload`` (option ``size``, bytes); channel ``sip.payload``
(the payload download) takes the generic kinds plus ``bad_signature`` and ``wrong_key``.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from django_civic.protocols import jose as jws
from django_civic.protocols.sip.crypto import (
    aes_encrypt,
    b64url_decode,
    b64url_encode,
    compact_json,
    encode_es256_jwt,
)
from django_civic.protocols.sip.tokens import data_token
from django_civic.sandbox import faults as fault_registry
from django_civic.sandbox.faults import Fault, apply_generic
from django_civic.sandbox.http import MAX_BODY, base_url
from django_civic.sandbox.sip.authorizer import (
    BadAuthCode,
    Unauthorized,
    accepted_audiences,
    authorize,
    check_auth_code,
    parse_body,
)
from django_civic.sandbox.sip.state import IssuedCode, StateError, state

logger = logging.getLogger("django_civic.sandbox.sip")

EXCHANGE_CHANNEL = "sip.exchange"
PAYLOAD_CHANNEL = "sip.payload"
DEFAULT_LARGE_PAYLOAD = 6 * 1024 * 1024 + 1024  # just over AWS Lambda's 6 MB response limit
MAX_LARGE_PAYLOAD = 64 * 1024 * 1024


def now() -> float:
    """The sandbox's clock. Tests patch this to check time-bound tokens at a chosen instant."""
    return time.time()


def _check_size(options: dict[str, Any]) -> None:
    size = options.get("size", DEFAULT_LARGE_PAYLOAD)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_LARGE_PAYLOAD:
        raise ValueError(f"size must be an integer number of bytes from 1 to {MAX_LARGE_PAYLOAD}")


fault_registry.register_kinds(EXCHANGE_CHANNEL, {
    "bad_signature": None, "wrong_key": None, "processed": None, "large_payload": _check_size,
})
fault_registry.register_kinds(PAYLOAD_CHANNEL, {"bad_signature": None, "wrong_key": None})

# Signs tokens that must fail verification with the sandbox's Civic key (fault "wrong_key").
_STRANGER_KEY = ec.generate_private_key(ec.SECP256R1())


# -- responses shaped like Civic's API Gateway ---------------------------------------------------------


def _json(body: Any, status: int = 200) -> HttpResponse:
    return _sized(HttpResponse(compact_json(body), status=status, content_type="application/json"))


def _sized(response: HttpResponse) -> HttpResponse:
    # API Gateway always sends Content-Length; the bare sandbox handler has no middleware adding it.
    response["Content-Length"] = str(len(response.content))
    return response


def unauthorized(reason: str) -> HttpResponse:
    """Civic's recorded rejection: 401, body ``Unauthorized`` (12 bytes) labelled application/json.

    The reason goes to the sandbox's log and to ``X-Sandbox-Reason`` (a developer aid Civic never sent);
    it names the failed check, never a token or secret.
    """
    logger.info("sip exchange refused (401): %s", reason)
    response = HttpResponse(b"Unauthorized", status=401, content_type="application/json")
    response["X-Sandbox-Reason"] = reason
    return _sized(response)


def bad_request(message: str) -> HttpResponse:
    logger.info("sip exchange refused (400): %s", message)
    return _json({"message": message}, 400)


# -- the exchange ----------------------------------------------------------------------------------------


@csrf_exempt
def exchange(request: HttpRequest, env: str) -> HttpResponse:
    if request.method != "POST":
        response = _json({"message": "Method Not Allowed"}, 405)
        response["Allow"] = "POST"
        return response
    answer, fault = apply_generic(EXCHANGE_CHANNEL)
    if answer is not None:
        return answer
    if _declared_length(request) > MAX_BODY or len(request.body) > MAX_BODY:
        return _json({"message": "Request Too Long"}, 413)
    body = request.body
    base = base_url(request)
    at = now()
    try:
        app = authorize(request.META.get("HTTP_AUTHORIZATION"), body, get_app=state.get_app,
                        audiences=accepted_audiences(f"{base}sip/"), now=at)
    except Unauthorized as exc:
        return unauthorized(exc.reason)
    try:
        token = parse_body(body)
        code_token = check_auth_code(token, state.civic_key.public_key(), app.app_id, now=at)
        issued = state.redeem(code_token, app.app_id)
    except (BadAuthCode, StateError) as exc:
        return bad_request(str(exc))
    return _json(_success_body(base, app.app_secret, issued, fault, at))


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _success_body(base: str, app_secret: str, issued: IssuedCode, fault: Fault | None,
                  at: float) -> dict[str, Any]:
    kind = fault.kind if fault else None
    plaintext = compact_json(issued.attributes)
    if fault is not None and kind == "large_payload":
        token = _padded_token(issued.app_id, app_secret, plaintext, f"{base}sip/",
                              fault.options.get("size", DEFAULT_LARGE_PAYLOAD), at)
    else:
        token = data_token(issued.app_id, _STRANGER_KEY if kind == "wrong_key" else state.civic_key,
                           aes_encrypt(plaintext, app_secret), f"{base}sip/", now=at)
    if kind == "bad_signature":
        token = corrupt_signature(token)
    if kind in ("processed", "large_payload"):
        url = f"{base}sip/payload/{state.store_payload(token, now=at)}"
        # Civic's fixture for this variant has only the first three keys; our client (and any careful
        # one) needs userId, so the sandbox sends it, with encrypted, as the direct answer does.
        return {"payloadUrl": url, "processed": True, "data": url, "userId": issued.user_id,
                "encrypted": True}
    return {"data": token, "userId": issued.user_id, "encrypted": True, "alg": "aes"}


def _padded_token(app_id: str, app_secret: str, plaintext: str, audience: str, size: int, at: float) -> str:
    """A data token of at least ``size`` bytes (to the next AES block) carrying the same attributes.

    The padding is JSON whitespace after the array, so the decrypted attributes are unchanged.
    """
    padding = 0
    while True:
        token = data_token(app_id, state.civic_key, aes_encrypt(plaintext + " " * padding, app_secret),
                           audience, now=at)
        if len(token) >= size:
            return token
        # Each plaintext byte adds about 16/9 token bytes (Base64 of AES output, then base64url).
        padding += max(1, math.ceil((size - len(token)) * 9 / 16))


def corrupt_signature(token: str) -> str:
    """The same token with one bit of its signature flipped (fault ``bad_signature``)."""
    head, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[0] ^= 0x01
    return f"{head}.{payload}.{b64url_encode(bytes(raw))}"


def resign_with_stranger(token: str) -> str:
    """The same claims signed by a key that is not the sandbox's Civic key (fault ``wrong_key``)."""
    parsed = jws.parse(token, max_length=None)
    return encode_es256_jwt(parsed.unverified_claims() or {}, _STRANGER_KEY, parsed.header)


# -- the S3 "processed" payload --------------------------------------------------------------------------


def payload(request: HttpRequest, payload_id: str) -> HttpResponse:
    """A plain GET, no credentials, like an S3 presigned URL; the body is the raw JWT text."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD"})
    answer, fault = apply_generic(PAYLOAD_CHANNEL)
    if answer is not None:
        return answer
    token = state.get_payload(payload_id, now=now())
    if token is None:
        return HttpResponse(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            b"<Message>Request has expired</Message></Error>",
            status=403, content_type="application/xml",
        )
    if fault is not None and fault.kind == "wrong_key":
        token = resign_with_stranger(token)
    elif fault is not None and fault.kind == "bad_signature":
        token = corrupt_signature(token)
    return _sized(HttpResponse(token.encode("ascii"), content_type="binary/octet-stream"))
