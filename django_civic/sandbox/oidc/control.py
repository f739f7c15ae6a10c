"""Control API of the sandbox's Civic Auth provider, under ``{base}control/oidc/``.

  GET  personas          the personas and their ``sub``
  GET/POST clients       list / register a client: {"client_id"?, "client_secret"?, "public"?,
                         "redirect_uris": [...], "post_logout_redirect_uris": [...], "allow_localhost"?}
  POST keys/rotate       {"retire_previous": false}: a new signing key; the old ones stay published
                         unless retired. GET keys: the published kids, current first
  POST tokens            mint a token: {"type": "id"|"access", "persona": "alice", "client_id"?,
                         "nonce"?, "claims": {...overrides}, "remove": [...claims], "fault"?: kind}
  GET/DELETE stats       requests received per endpoint (proof that a cached path made none)
  GET/POST providers     list / register an external identity provider for federated token exchange, as
                         Civic's Integration page does: {"issuer", "audience",
                         "jwks_uri" | "public_key" (PEM), "algorithms"?: ["RS256"], "max_ttl"?: 3600}
  GET/POST access        the account's access policy: {"public_access": true|false,
                         "invited": [{"email", "client_id"}]} (public access is on after a reset)
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from django_civic.sandbox import defaults
from django_civic.sandbox.control import register_reset
from django_civic.sandbox.http import BadRequest, error, json_body
from django_civic.sandbox.oidc import personas, tokens
from django_civic.sandbox.oidc.federation import federation, new_policy, new_provider
from django_civic.sandbox.oidc.keys import keyring
from django_civic.sandbox.oidc.state import new_client, provider
from django_civic.sandbox.oidc.views import issuer

register_reset(provider.reset)
register_reset(federation.reset)


@require_GET
def persona_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"personas": personas.describe()})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def clients(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"clients": [c.describe() for c in provider.clients.values()]})
    try:
        client = new_client(json_body(request))
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except ValueError as exc:
        return error(str(exc))
    provider.register(client)
    return JsonResponse(client.describe(), status=201)


@require_GET
def keys(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"kids": keyring.kids()})


@csrf_exempt
@require_http_methods(["POST"])
def rotate(request: HttpRequest) -> JsonResponse:
    try:
        data = json_body(request)
    except BadRequest as exc:
        return error(str(exc), exc.status)
    retire = data.get("retire_previous", False)
    if not isinstance(retire, bool):
        return error("retire_previous must be a boolean")
    key = keyring.rotate(retire_previous=retire)
    return JsonResponse({"kid": key.kid, "kids": keyring.kids()}, status=201)


@csrf_exempt
@require_http_methods(["POST"])
def mint(request: HttpRequest) -> JsonResponse:
    try:
        data = json_body(request)
    except BadRequest as exc:
        return error(str(exc), exc.status)
    kind = data.get("type", "id")
    persona = data.get("persona", "alice")
    client_id = data.get("client_id", defaults.OIDC_CLIENT_ID)
    overrides = data.get("claims", {})
    remove = data.get("remove", [])
    fault = data.get("fault")
    if kind not in ("id", "access"):
        return error("type must be id or access")
    if persona not in personas.names():
        return error("unknown persona")
    if not isinstance(client_id, str) or not isinstance(overrides, dict) or not isinstance(remove, list) \
            or not all(isinstance(name, str) for name in remove):
        return error("client_id must be a string, claims an object, remove a list of claim names")
    if fault is not None and (not isinstance(fault, str) or fault not in tokens.TOKEN_FAULTS):
        return error("unknown fault; one of " + ", ".join(sorted(tokens.TOKEN_FAULTS)))
    nonce, access_token = data.get("nonce"), data.get("access_token")
    if nonce is not None and not isinstance(nonce, str):
        return error("nonce must be a string (put other values in claims)")
    if access_token is not None and not (isinstance(access_token, str) and access_token.isascii()):
        return error("access_token must be an ASCII string (a token)")
    scopes = ["openid", "email", "profile"]
    iss = issuer(request)
    if kind == "id":
        claims = tokens.id_token_claims(iss, client_id, persona, scopes, nonce=nonce,
                                        access_token=access_token)
    else:
        claims = tokens.access_token_claims(iss, client_id, personas.subject(persona), scopes)
    claims.update(overrides)
    for name in remove:
        claims.pop(name, None)
    try:
        signed = tokens.sign(claims, typ="JWT" if kind == "id" else "at+jwt", fault=fault)
    except (TypeError, ValueError):  # PyJWT refuses some claims (an iss that is not a string)
        return error("these claims cannot be signed")
    return JsonResponse({"token": signed, "claims": claims}, status=201)


@csrf_exempt
@require_http_methods(["GET", "DELETE"])
def stats(request: HttpRequest) -> JsonResponse:
    if request.method == "DELETE":
        provider.clear_stats()
    return JsonResponse({"requests": provider.stats()})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def providers(request: HttpRequest) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse({"providers": [p.describe() for p in federation.providers.values()]})
    try:
        external = new_provider(json_body(request))
    except BadRequest as exc:
        return error(str(exc), exc.status)
    except ValueError as exc:
        return error(str(exc))
    federation.register(external)
    return JsonResponse(external.describe(), status=201)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def access(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        try:
            federation.set_policy(*new_policy(json_body(request)))
        except BadRequest as exc:
            return error(str(exc), exc.status)
        except ValueError as exc:
            return error(str(exc))
    return JsonResponse(federation.policy())


urlpatterns = [
    path("personas", persona_list, name="oidc_personas"),
    path("clients", clients, name="oidc_clients"),
    path("keys", keys, name="oidc_keys"),
    path("keys/rotate", rotate, name="oidc_rotate"),
    path("tokens", mint, name="oidc_mint"),
    path("stats", stats, name="oidc_stats"),
    path("providers", providers, name="oidc_providers"),
    path("access", access, name="oidc_access"),
]
