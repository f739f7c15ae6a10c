"""The IDEMIA sandbox's machine endpoints: Cognito-style token, rp-handler sessions, GIPS identity and proof.

Each checks what the real service checks (client credentials, Bearer token, ``apikey`` header) and answers
in the real service's error shapes: OAuth ``{"error": ...}`` from the token endpoint, API Gateway
``{"message": ...}`` from the others.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from urllib.parse import unquote, urlsplit

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from django_civic.sandbox import defaults
from django_civic.sandbox.faults import apply_generic, register_kinds
from django_civic.sandbox.http import BadRequest, error, json_body
from django_civic.sandbox.idemia.gips import PROOF_BOUNDARY, identity_payload, proof_envelope
from django_civic.sandbox.idemia.state import GipsIdentity, store

# Besides the generic kinds: GIPS can answer as if the identity were still being processed, and serve the
# proof in another legal envelope (base64 transfer encoding, boundary-like bytes inside the archive).
register_kinds("idemia.token", {})
register_kinds("idemia.session", {})
register_kinds("idemia.gips", {"processing": None})
register_kinds("idemia.proof", {"processing": None, "base64": None, "boundary_text": None})


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _oauth_error(code: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": code}, status=status)


@csrf_exempt
@require_POST
def token(request: HttpRequest) -> HttpResponse:
    """``POST {cognito}/oauth2/token``: client credentials in the form body or HTTP Basic, as Cognito."""
    response, _fault = apply_generic("idemia.token")
    if response is not None:
        return response
    if request.POST.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type")
    client_id, client_secret = request.POST.get("client_id", ""), request.POST.get("client_secret", "")
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
            client_id, _, client_secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return _oauth_error("invalid_client")
    known_id = _same(client_id, defaults.IDEMIA_CLIENT_ID)
    if not known_id or not _same(client_secret, defaults.IDEMIA_CLIENT_SECRET):
        return _oauth_error("invalid_client")
    access_token, expires_in = store.issue_token()
    return JsonResponse({"access_token": access_token, "expires_in": expires_in, "token_type": "Bearer"})


def _absolute_url(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2048:
        raise BadRequest(f"{name} must be a string")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadRequest(f"{name} must be an absolute http(s) URL")
    return value


@csrf_exempt
@require_POST
def create_session(request: HttpRequest) -> HttpResponse:
    """``POST {rp-handler}/api/v1/sessions`` (Bearer): ``{"callbackUrl"?, "gotoUrl"?}`` -> ``{"sessionId"}``.
    """
    response, _fault = apply_generic("idemia.session")
    if response is not None:
        return response
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not store.token_valid(header[7:].strip()):
        return error("Unauthorized", 401)
    try:
        data = json_body(request)
        callback_url = _absolute_url(data.get("callbackUrl"), "callbackUrl")
        goto_url = _absolute_url(data.get("gotoUrl"), "gotoUrl")
    except BadRequest as exc:
        return error(str(exc), exc.status)
    session = store.create_session(callback_url, goto_url)
    return JsonResponse({"sessionId": session.session_id})


def _gips_identity(request: HttpRequest, identity_id: str) -> tuple[GipsIdentity | None, HttpResponse | None]:
    """The identity the request may read, or the error response: API key first, then existence."""
    if not _same(request.headers.get("apikey", ""), defaults.IDEMIA_API_KEY):
        return None, error("Invalid API key", 401)
    with store.lock:
        identity = store.identities.get(unquote(identity_id))
    # Once the proof was fetched IDEMIA has deleted the data: the identity is gone.
    if identity is None or identity.closed:
        return None, error("Identity not found", 404)
    return identity, None


@csrf_exempt
@require_GET
def identity(request: HttpRequest, identity_id: str) -> HttpResponse:
    """``GET {gips}/v1/identities/{id}`` (``apikey``). Fault kind ``processing``: answer PROCESSING."""
    response, fault = apply_generic("idemia.gips")
    if response is not None:
        return response
    found, refusal = _gips_identity(request, identity_id)
    if found is None:
        return refusal  # type: ignore[return-value]
    with store.lock:
        found.identity_fetches += 1
    processing = fault is not None and fault.kind == "processing"
    return JsonResponse(identity_payload(found, processing=processing))


@csrf_exempt
@require_GET
def proof(request: HttpRequest, identity_id: str) -> HttpResponse:
    """``GET {gips}/v1/identities/{id}/proof`` (``apikey``): closes the transaction. 403 while PROCESSING.

    Fault kinds ``base64`` and ``boundary_text``: the next proof comes in that envelope (``proof_envelope``).
    """
    response, fault = apply_generic("idemia.proof")
    if response is not None:
        return response
    found, refusal = _gips_identity(request, identity_id)
    if found is None:
        return refusal  # type: ignore[return-value]
    with store.lock:
        if fault is not None and fault.kind == "processing":
            found.proof_refusals += 1
            return error("Identity is being processed", 403)
        if found.closed:
            return error("Identity not found", 404)
        found.closed = True
        found.proof_fetches += 1
    encoding = fault.kind if fault is not None else "binary"
    return HttpResponse(proof_envelope(found, encoding=encoding),
                        content_type=f'multipart/mixed; boundary="{PROOF_BOUNDARY}"')
