"""Control API of the SIP sandbox, under ``{base}control/sip/`` (JSON in, JSON out).

  GET  apps         the registered apps (ids, names, public keys; never secrets)
  POST apps         register or overwrite ``{appId, appSecret, publicKey, name?}``
  POST codes        mint an approved auth code ``{appId?, persona? | data?, scope?, userId?, age?}``
                    -> 201 ``{authToken, userId}``
  GET  civic-key    the public key the sandbox signs as Civic with (hex, PEM, JWK)
  GET  personas     the personas, their labels, and the scopes the sandbox emulates
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from django_civic.protocols.sip.crypto import KeyFormatError, b64url_encode, load_public_key, public_key_hex
from django_civic.protocols.sip.tokens import AUTH_CODE_LIFETIME, auth_code
from django_civic.sandbox import defaults
from django_civic.sandbox.control import register_reset
from django_civic.sandbox.http import BadRequest, base_url, error, json_body
from django_civic.sandbox.sip import exchange, personas
from django_civic.sandbox.sip.state import App, StateError, state

# control/reset forgets custom apps, issued and used codes, and stored payloads.
register_reset(state.reset)

_APP_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_SECRET = re.compile(r"^(?:[0-9A-Fa-f]{32}|[0-9A-Fa-f]{48}|[0-9A-Fa-f]{64})$")


def mint(base: str, *, app_id: str, user_id: str, attributes: list[dict[str, Any]], scope: str,
         age: float = 0.0) -> str:
    """Issue an approved auth code (A5): the browser would receive this JWT from the wallet."""
    issued_at = exchange.now() - age
    code_token = state.issue(app_id, user_id, attributes, scope, issued_at + AUTH_CODE_LIFETIME,
                             now=exchange.now())
    return auth_code(app_id, state.civic_key, f"{base}sip/", code_token=code_token, now=issued_at)


def app_from_json(data: dict[str, Any]) -> App:
    app_id, secret, key = data.get("appId"), data.get("appSecret"), data.get("publicKey")
    name = data.get("name", "")
    if not isinstance(app_id, str) or not _APP_ID.match(app_id):
        raise BadRequest("appId must be 1-128 letters, digits or . _ ~ -")
    if not isinstance(secret, str) or not _SECRET.match(secret):
        raise BadRequest("appSecret must be 32, 48 or 64 hex digits (an AES key)")
    if not isinstance(name, str) or len(name) > 200:
        raise BadRequest("name must be a string of at most 200 characters")
    if not isinstance(key, str) or len(key) > 4096:
        raise BadRequest("publicKey must be a P-256 public key (130 hex digits or PEM)")
    try:
        public_key = load_public_key(key)
    except KeyFormatError:
        raise BadRequest("publicKey must be a P-256 public key (130 hex digits or PEM)") from None
    return App(app_id, secret, public_key, name)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def apps(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"apps": [app.describe() for app in state.apps()]})
    try:
        app = app_from_json(json_body(request))
        state.register_app(app)
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except StateError as exc:
        return error(str(exc), 409)
    return JsonResponse(app.describe(), status=201)


@csrf_exempt
@require_http_methods(["POST"])
def codes(request: HttpRequest) -> JsonResponse:
    try:
        data = json_body(request)
        app_id = data.get("appId", defaults.SIP_APP_ID)
        if not isinstance(app_id, str) or state.get_app(app_id) is None:
            raise BadRequest("appId is not a registered app")
        scope = personas.resolve_scope(data.get("scope", "BASIC_SIGNUP"))
        attributes, user_id = _released(data, app_id, scope)
        age = data.get("age", 0)
        if isinstance(age, bool) or not isinstance(age, (int, float)) or not 0 <= age <= 30 * 86400:
            raise BadRequest("age (seconds since approval) must be a number from 0 to 2592000")
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except (personas.ScopeError, personas.PersonaError) as exc:
        return error(str(exc))
    token = mint(base_url(request), app_id=app_id, user_id=user_id, attributes=attributes, scope=scope.name,
                 age=float(age))
    return JsonResponse({"authToken": token, "userId": user_id}, status=201)


def _released(data: dict[str, Any], app_id: str, scope: personas.Scope) -> tuple[list[dict[str, Any]], str]:
    """What the approval releases, and to whom: a persona's attributes, or custom ``data``."""
    persona_name = data.get("persona")
    custom = data.get("data")
    explicit_user = data.get("userId")
    if explicit_user is not None and not (isinstance(explicit_user, str) and 1 <= len(explicit_user) <= 255):
        raise BadRequest("userId must be a string of 1 to 255 characters")
    if custom is not None:
        attributes = personas.normalise_data(custom)
        if explicit_user:
            return attributes, explicit_user
        if persona_name is not None:
            return attributes, personas.user_id(app_id, personas.get_persona(persona_name).name)
        return attributes, secrets.token_hex(32)  # somebody new
    persona = personas.get_persona(persona_name if persona_name is not None else "alice")
    return persona.release(scope), explicit_user or personas.user_id(app_id, persona.name)


@require_GET
def civic_key(request: HttpRequest) -> JsonResponse:
    public = state.civic_key.public_key()
    numbers = public.public_numbers()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return JsonResponse({
        "publicKey": public_key_hex(public),
        "pem": pem.decode("ascii"),
        "jwk": {"kty": "EC", "crv": "P-256", "x": b64url_encode(numbers.x.to_bytes(32, "big")),
                "y": b64url_encode(numbers.y.to_bytes(32, "big"))},
    })


@require_GET
def persona_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({
        "personas": [personas.describe(persona) for persona in personas.PERSONAS.values()],
        "scopes": [{"name": scope.name, "wire": scope.wire, "labels": list(scope.labels)}
                   for scope in personas.all_scopes()],
    })


urlpatterns = [
    path("apps", apps, name="sip-apps"),
    path("codes", codes, name="sip-codes"),
    path("civic-key", civic_key, name="sip-civic-key"),
    path("personas", persona_list, name="sip-personas"),
]
