"""The sandbox's Civic Auth provider: ``{base}oauth/`` (civic-protocols.md B1).

Standard OpenID Connect, so an unmodified OIDC client library, Civic's SDKs and django_civic all work
against it: discovery, authorization (a persona chooser; ``login_hint=<persona>`` approves at once for
automation), token (authorization code with PKCE, refresh with rotation, RFC 8693 token exchange,
client credentials), JWKS, userinfo and RP-initiated logout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from django_civic.sandbox.faults import apply_generic, register_kinds
from django_civic.sandbox.http import base_url
from django_civic.sandbox.oidc import personas, tokens
from django_civic.sandbox.oidc.federation import Refused, federation
from django_civic.sandbox.oidc.keys import keyring
from django_civic.sandbox.oidc.pages import render
from django_civic.sandbox.oidc.state import ACCESS_TOKEN_LIFETIME, Client, Grant, provider

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
GRANT_TYPES = ("authorization_code", "refresh_token", TOKEN_EXCHANGE, "client_credentials")
# Kinds each channel understands besides the generic ones (a typo is refused when queued).
register_kinds("oidc.token", dict.fromkeys(tokens.TOKEN_FAULTS))
register_kinds("oidc.jwks", {"empty": None})
register_kinds("oidc.userinfo", {"identity_change": None})
register_kinds("oidc.discovery", {"wrong_issuer": None})

_GRANT_NAMES = {"authorization_code": "code", "refresh_token": "refresh", TOKEN_EXCHANGE: "exchange",
                "client_credentials": "client_credentials"}
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")


def issuer(request: HttpRequest) -> str:
    return base_url(request) + "oauth/"


def _with_params(uri: str, params: dict[str, Any]) -> str:
    params = {k: v for k, v in params.items() if v is not None}
    return uri + ("&" if urlsplit(uri).query else "?") + urlencode(params)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def oauth_error(error: str, description: str, status: int = 400) -> HttpResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    if error == "invalid_client":
        response["WWW-Authenticate"] = 'Basic realm="civic-sandbox"'
    return _no_store(response)


# -- discovery and keys ----------------------------------------------------------------------------

@require_GET
def discovery(request: HttpRequest) -> HttpResponse:
    provider.count("discovery")
    response, fault = apply_generic("oidc.discovery")
    if response is not None:
        return response
    iss = issuer(request)
    document = {
        "issuer": "https://evil.example/oauth/" if fault and fault.kind == "wrong_issuer" else iss,
        "authorization_endpoint": iss + "auth",
        "token_endpoint": iss + "token",
        "userinfo_endpoint": iss + "userinfo",
        "jwks_uri": iss + "jwks",
        "end_session_endpoint": iss + "session/end",
        "scopes_supported": list(personas.SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email",
                             "email_verified", "name", "given_name", "family_name", "picture",
                             "preferred_username", "updated_at"],
        "authorization_response_iss_parameter_supported": True,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
    }
    return JsonResponse(document)


@require_GET
def jwks(request: HttpRequest) -> HttpResponse:
    provider.count("jwks")
    response, fault = apply_generic("oidc.jwks")
    if response is not None:
        return response
    if fault and fault.kind == "empty":
        return JsonResponse({"keys": []})
    return JsonResponse(keyring.jwks())


# -- authorization ---------------------------------------------------------------------------------

_AUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                "code_challenge_method", "prompt", "login_hint")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    provider.count("authorize")
    params = request.POST if request.method == "POST" else request.GET
    client = provider.client(params.get("client_id"))
    if client is None:
        return render("message.html", {"title": "Unknown application", "code": "INVALID_CLIENT_ID 0x0003",
                                       "message": "The client_id is missing or not registered."}, status=400)
    redirect_uri = params.get("redirect_uri") or ""
    if not client.accepts_redirect(redirect_uri, client.redirect_uris):
        # Never redirect to an unregistered URI (RFC 6749 4.1.2.1): show the error here instead.
        return render("message.html", {"title": "Invalid redirect URI", "code": "INVALID_REDIRECT_URI 0x0004",
                                       "message": "The redirect_uri is not registered for this application."},
                      status=400)
    state = params.get("state")
    iss = issuer(request)

    def back(**result: Any) -> HttpResponse:
        return HttpResponseRedirect(_with_params(redirect_uri, {**result, "state": state, "iss": iss}))

    if params.get("response_type") != "code":
        return back(error="unsupported_response_type",
                    error_description="only response_type=code is supported")
    scopes = (params.get("scope") or "").split()
    if "openid" not in scopes:
        return back(error="invalid_scope", error_description="the openid scope is required")
    unknown = [s for s in scopes if s not in personas.SUPPORTED_SCOPES]
    if unknown:
        return back(error="invalid_scope", error_description="unsupported scope: " + " ".join(unknown)[:100])
    challenge = params.get("code_challenge")
    if challenge:
        if params.get("code_challenge_method") != "S256":
            return back(error="invalid_request", error_description="code_challenge_method must be S256")
        if not _CHALLENGE.match(challenge):
            return back(error="invalid_request", error_description="code_challenge is malformed")
    elif client.public:
        return back(error="invalid_request",
                    error_description="PKCE (code_challenge) is required for public clients")
    nonce = params.get("nonce")
    if nonce is not None and len(nonce) > 512:
        return back(error="invalid_request", error_description="nonce is too long")

    if request.method == "POST" and params.get("action") == "deny":
        return back(error="access_denied", error_description="the user cancelled the login")
    persona = params.get("persona") if request.method == "POST" else None
    hint = params.get("login_hint")
    if persona is None and hint in personas.names():
        persona = hint
    if persona is not None:
        if persona not in personas.names():
            return back(error="access_denied", error_description="unknown persona")
        grant = Grant(client_id=client.client_id, persona=persona, sub=personas.subject(persona),
                      scopes=scopes, auth_time=int(time.time()), nonce=nonce, redirect_uri=redirect_uri,
                      code_challenge=challenge, family=secrets.token_hex(8))
        return back(code=provider.issue_code(grant))
    if params.get("prompt") == "none":
        return back(error="login_required", error_description="the user must choose a persona")
    hidden = [(name, params[name]) for name in _AUTH_PARAMS if params.get(name) is not None]
    return render("authorize.html", {"client_id": client.client_id, "scope": " ".join(scopes),
                                     "personas": personas.describe(), "params": hidden})


# -- token -----------------------------------------------------------------------------------------

def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _authenticate_client(request: HttpRequest) -> tuple[Client | None, HttpResponse | None, bool]:
    """The calling client and whether it proved a secret; or an ``invalid_client`` response."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    form = request.POST
    if header[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            raw_id, raw_secret = decoded.split(":", 1)
        except (ValueError, UnicodeDecodeError):
            return None, oauth_error("invalid_client", "malformed Basic credentials", 401), False
        # RFC 6749 2.3.1 form-encodes id and secret; Civic's token-exchange clients do not. Accept both.
        for basic_id, basic_secret in ((raw_id, raw_secret),
                                       (unquote_plus(raw_id), unquote_plus(raw_secret))):
            client = provider.client(basic_id)
            if client and client.client_secret and _same(client.client_secret, basic_secret):
                if form.get("client_id") not in (None, client.client_id):
                    mismatch = oauth_error("invalid_request", "client_id does not match the credentials")
                    return None, mismatch, False
                return client, None, True
        return None, oauth_error("invalid_client", "client authentication failed", 401), False
    client = provider.client(form.get("client_id"))
    if client is None:
        return None, oauth_error("invalid_client", "unknown client", 401), False
    secret = form.get("client_secret")
    if client.public:
        if secret:
            return None, oauth_error("invalid_client", "a public client has no secret", 401), False
        return client, None, False
    if not secret and client.pkce_without_secret and form.get("grant_type") in ("authorization_code",
                                                                               "refresh_token"):
        return client, None, False  # the grant itself must then prove PKCE (checked per grant)
    if secret and _same(client.client_secret or "", secret):
        return client, None, True
    return None, oauth_error("invalid_client", "client authentication failed", 401), False


@csrf_exempt
@require_http_methods(["POST"])
def token(request: HttpRequest) -> HttpResponse:
    provider.count("token")
    response, fault = apply_generic("oidc.token")
    if response is not None:
        return response
    token_fault = fault.kind if fault is not None and fault.kind in tokens.TOKEN_FAULTS else None
    if not request.content_type == "application/x-www-form-urlencoded":
        return oauth_error("invalid_request", "the body must be application/x-www-form-urlencoded")
    client, error, authenticated = _authenticate_client(request)
    if error is not None:
        return error
    assert client is not None
    grant_type = request.POST.get("grant_type")
    provider.count("token:" + _GRANT_NAMES.get(grant_type or "", "other"))
    if grant_type == "authorization_code":
        return _authorization_code(request, client, authenticated or client.public, token_fault)
    if grant_type == "refresh_token":
        return _refresh(request, client, authenticated or client.public, token_fault)
    if grant_type == TOKEN_EXCHANGE:
        return _exchange(request, client, authenticated, token_fault)
    if grant_type == "client_credentials":
        if not authenticated:
            return oauth_error("unauthorized_client", "client credentials need a confidential client")
        claims = tokens.access_token_claims(issuer(request), client.client_id, client.client_id,
                                            (request.POST.get("scope") or "").split())
        return _tokens_response({"access_token": tokens.sign(claims, typ="at+jwt"), "token_type": "Bearer",
                                 "expires_in": ACCESS_TOKEN_LIFETIME, "scope": claims["scope"]})
    return oauth_error("unsupported_grant_type", "unsupported grant_type")


def _tokens_response(body: dict[str, Any]) -> HttpResponse:
    return _no_store(JsonResponse(body))


def _issue(request: HttpRequest, client: Client, grant: Grant, fault: str | None, *,
           nonce: str | None) -> HttpResponse:
    iss = issuer(request)
    access_claims = tokens.access_token_claims(iss, client.client_id, grant.sub, grant.scopes)
    access_token = tokens.sign(access_claims, typ="at+jwt")
    id_claims = tokens.id_token_claims(iss, client.client_id, grant.persona, grant.scopes, sub=grant.sub,
                                       nonce=nonce, auth_time=grant.auth_time, access_token=access_token)
    return _tokens_response({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME,
        "id_token": tokens.sign(id_claims, fault=fault),
        "refresh_token": provider.issue_refresh_token(grant),
        "scope": " ".join(grant.scopes),
    })


def _authorization_code(request: HttpRequest, client: Client, authenticated: bool,
                        fault: str | None) -> HttpResponse:
    form = request.POST
    grant, reason = provider.take_code(form.get("code") or "")
    if grant is None:
        return oauth_error("invalid_grant", reason)
    if grant.client_id != client.client_id:
        return oauth_error("invalid_grant", "the code was issued to another client")
    if form.get("redirect_uri") != grant.redirect_uri:
        return oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
    verifier = form.get("code_verifier")
    if not authenticated and not grant.code_challenge:
        return oauth_error("invalid_client", "without the client secret, the login must use PKCE", 401)
    if grant.code_challenge:
        if not verifier or not _VERIFIER.match(verifier):
            return oauth_error("invalid_grant", "code_verifier is missing or malformed")
        computed = tokens.b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        if not hmac.compare_digest(computed, grant.code_challenge):
            return oauth_error("invalid_grant", "PKCE verification failed")
    elif verifier:
        return oauth_error("invalid_grant", "code_verifier sent but no code_challenge was")
    return _issue(request, client, grant, fault, nonce=grant.nonce)


def _refresh(request: HttpRequest, client: Client, authenticated: bool, fault: str | None) -> HttpResponse:
    grant, reason = provider.take_refresh_token(request.POST.get("refresh_token") or "", client.client_id)
    if grant is None:
        return oauth_error("invalid_grant", reason)
    if not authenticated and not grant.code_challenge:
        return oauth_error("invalid_client", "without the client secret, the login must have used PKCE", 401)
    scope = request.POST.get("scope")
    if scope and not set(scope.split()) <= set(grant.scopes):
        return oauth_error("invalid_scope", "a refresh cannot widen the scope")
    return _issue(request, client, grant, fault, nonce=None)


def _exchange(request: HttpRequest, client: Client, authenticated: bool, fault: str | None) -> HttpResponse:
    """RFC 8693: a Civic access token for the user of the subject token, either one this provider issued
    (Civic -> Civic keeps ``sub``) or one of a registered external identity provider (federated:
    ``federation.py``). Civic's client always says ``access_token`` as the type, even for ID tokens (B3)."""
    form = request.POST
    if not authenticated:
        return oauth_error("invalid_client", "token exchange needs the client secret", 401)
    subject_type = form.get("subject_token_type")
    if subject_type not in (ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE):
        return oauth_error("invalid_request", "subject_token_type must be an access_token or id_token type")
    lifetime = ACCESS_TOKEN_LIFETIME
    if form.get("expires_in") is not None:
        raw = form["expires_in"]
        if not raw.isdigit() or not 60 <= int(raw) <= 86400:
            return oauth_error("invalid_request", "expires_in must be 60 to 86400 seconds")
        lifetime = int(raw)
    extra: dict[str, Any] = {}
    profile = form.get("civic_profile")
    if profile is not None:
        if not profile or len(profile) > 200:
            return oauth_error("invalid_request", "civic_profile is malformed")
        extra["civic_profile"] = profile
    subject = form.get("subject_token") or ""
    claims = tokens.verify_own(subject, issuer(request))
    try:
        if claims is not None:
            sub = claims["sub"]
            scopes = str(claims.get("scope") or "openid email profile").split()
            persona = personas.persona_for_subject(sub)
            person = personas.claims(persona) if persona else {}
            email, verified = person.get("email"), person.get("email_verified") is True
        else:
            external, subject_claims = federation.verify(subject)
            user = federation.user_for(external.issuer, subject_claims)
            sub, scopes, lifetime = user.sub, ["openid", "email", "profile"], min(lifetime, external.max_ttl)
            email, verified = user.email, user.email_verified
            extra.update({"email": email, "email_verified": verified, "name": user.name,
                          "federated_iss": external.issuer})
        if not federation.admits(email, verified, client.client_id):
            raise Refused("public access is off and the user is not invited with this email and client id")
    except Refused as exc:
        return oauth_error("invalid_grant", str(exc))
    access_claims = tokens.access_token_claims(issuer(request), client.client_id, sub, scopes,
                                               lifetime=lifetime, extra={k: v for k, v in extra.items()
                                                                         if v is not None})
    if fault == "expired":
        lifetime = 0
    return _tokens_response({"access_token": tokens.sign(access_claims, typ="at+jwt"),
                             "issued_token_type": ACCESS_TOKEN_TYPE, "token_type": "Bearer",
                             "expires_in": lifetime, "scope": " ".join(scopes)})


# -- userinfo and logout ---------------------------------------------------------------------------

@csrf_exempt
@require_http_methods(["GET", "POST"])
def userinfo(request: HttpRequest) -> HttpResponse:
    provider.count("userinfo")
    response, fault = apply_generic("oidc.userinfo")
    if response is not None:
        return response
    header = request.META.get("HTTP_AUTHORIZATION", "")
    raw = header[7:].strip() if header[:7].lower() == "bearer " else request.POST.get("access_token")
    claims = tokens.verify_own(raw, issuer(request))
    if claims is None or "scope" not in claims:
        response = JsonResponse({"error": "invalid_token",
                                 "error_description": "the access token is not valid"}, status=401)
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    persona = personas.persona_for_subject(claims["sub"])
    body = personas.claims(persona, claims["scope"].split()) if persona else {"sub": claims["sub"]}
    if fault is not None and fault.kind == "identity_change":
        body["sub"] = tokens.other_subject(claims["sub"])
    return _no_store(JsonResponse(body))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def end_session(request: HttpRequest) -> HttpResponse:
    provider.count("end_session")
    params = request.POST if request.method == "POST" else request.GET
    client = provider.client(params.get("client_id"))
    hint = params.get("id_token_hint")
    if hint:
        import jwt

        try:
            # An expired hint still identifies the client (OIDC RP-Initiated Logout 1.0, section 2).
            key = keyring.find(jwt.get_unverified_header(hint).get("kid"))
            claims = jwt.decode(hint, key.private.public_key() if key else "", algorithms=["RS256"],
                                options={"verify_exp": False, "verify_aud": False})
        except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
            return _signout_failed("The id_token_hint is not valid.")
        hinted = provider.client(claims.get("aud") if isinstance(claims.get("aud"), str) else None)
        if client is not None and hinted is not None and hinted.client_id != client.client_id:
            return _signout_failed("The id_token_hint was issued to another client.")
        client = client or hinted
    target = params.get("post_logout_redirect_uri")
    if target:
        if client is None or not client.accepts_redirect(target, client.post_logout_redirect_uris):
            return _signout_failed("The post_logout_redirect_uri is not registered.")
        return HttpResponseRedirect(_with_params(target, {"state": params.get("state")}))
    return render("message.html", {"title": "Signed out",
                                   "message": "You are signed out of the Civic Auth sandbox."})


def _signout_failed(message: str) -> HttpResponse:
    return render("message.html", {"title": "Sign-out failed", "message": message}, status=400)
