"""Civic's hub, as the sandbox plays it: MCP over streamable HTTP (JSON-RPC 2.0), civic-protocols.md B4.

Every request needs ``Authorization: Bearer <Civic access token>`` issued by the sandbox's provider (its
own logins or a token exchange); a missing, forged or expired token is a 401. ``initialize`` opens a
session, returned in ``mcp-session-id`` and owned by the token's user; every later request names it
(missing: 400; unknown, ended or someone else's: 404). ``x-civic-profile-id`` selects a profile; a token
locked to a profile (``civic_profile``) cannot name another one (403) [inferred: civic-protocols.md open
question 8]. Answers are ``application/json`` (a client must accept SSE too; this hub never needs it).

The tools are harmless and answer from the token's claims only: ``whoami`` and ``echo``.
Fault channel ``hub.mcp`` (generic kinds: status, latency, malformed, timeout).
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from django_civic.sandbox.control import register_reset
from django_civic.sandbox.faults import apply_generic, register_kinds
from django_civic.sandbox.http import MAX_BODY, base_url
from django_civic.sandbox.oidc import tokens

PROTOCOL_VERSIONS = ("2025-06-18", "2025-03-26", "2024-11-05")
SERVER_INFO = {"name": "civic-sandbox-hub", "version": "1.0"}
INSTRUCTIONS = "Civic's hub in the django_civic sandbox: tools that answer from your access token."
register_kinds("hub.mcp", {})

TOOLS = [
    {"name": "whoami", "description": "Who the hub takes you for: the claims of your Civic access token.",
     "inputSchema": {"type": "object", "properties": {}, "additionalProperties": False}},
    {"name": "echo", "description": "Repeat a text back.",
     "inputSchema": {"type": "object", "properties": {"text": {"type": "string", "maxLength": 2000}},
                     "required": ["text"], "additionalProperties": False}},
]

_lock = threading.Lock()
_sessions: dict[str, str] = {}  # mcp-session-id -> the sub that opened it


@register_reset
def reset() -> None:
    with _lock:
        _sessions.clear()


def _unauthorized(description: str) -> HttpResponse:
    response = JsonResponse({"error": "invalid_token", "error_description": description}, status=401)
    response["WWW-Authenticate"] = f'Bearer error="invalid_token", error_description="{description}"'
    return response


def _rpc_error(message_id: Any, code: int, message: str, status: int = 200) -> JsonResponse:
    return JsonResponse({"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}},
                        status=status)


def _result(message_id: Any, result: dict[str, Any]) -> JsonResponse:
    return JsonResponse({"jsonrpc": "2.0", "id": message_id, "result": result})


@csrf_exempt
def mcp(request: HttpRequest) -> HttpResponse:
    response, _fault = apply_generic("hub.mcp")
    if response is not None:
        return response
    header = request.META.get("HTTP_AUTHORIZATION", "")
    raw = header[7:].strip() if header[:7].lower() == "bearer " else None
    claims = tokens.verify_own(raw, base_url(request) + "oauth/")
    if claims is None or "client_id" not in claims or "nonce" in claims:  # an access token, never an ID token
        return _unauthorized("the access token is missing, invalid or expired")
    sub = claims["sub"]
    if request.method == "DELETE":  # MCP: the client ends its session
        with _lock:
            ended = _sessions.get(request.headers.get("mcp-session-id", "")) == sub
            if ended:
                _sessions.pop(request.headers["mcp-session-id"])
        return HttpResponse(status=200 if ended else 404)
    if request.method != "POST":
        response = HttpResponse(status=405)
        response["Allow"] = "POST, DELETE"
        return response
    profile = request.headers.get("x-civic-profile-id")
    locked = claims.get("civic_profile")
    if locked and profile and profile != locked:
        return JsonResponse({"error": "forbidden",
                             "error_description": "the token is locked to another profile"}, status=403)
    if len(request.body) > MAX_BODY:
        return _rpc_error(None, -32600, "request too large", 413)
    try:
        message = json.loads(request.body.decode("utf-8"))
    except (ValueError, RecursionError):
        return _rpc_error(None, -32700, "parse error", 400)
    if (not isinstance(message, dict) or message.get("jsonrpc") != "2.0"
            or not isinstance(message.get("method"), str)):
        return _rpc_error(None, -32600, "invalid request: one JSON-RPC 2.0 message per POST", 400)
    method, params = message["method"], message.get("params", {})
    if not isinstance(params, dict):
        return _rpc_error(message.get("id"), -32602, "params must be an object", 400)
    if method == "initialize":
        new_session = secrets.token_urlsafe(24)
        with _lock:
            _sessions[new_session] = sub
        requested = params.get("protocolVersion")
        response = _result(message.get("id"), {
            "protocolVersion": requested if requested in PROTOCOL_VERSIONS else PROTOCOL_VERSIONS[0],
            "capabilities": {"tools": {"listChanged": False}}, "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS})
        response["mcp-session-id"] = new_session
        return response
    session_id = request.headers.get("mcp-session-id")
    if not session_id:
        return _rpc_error(message.get("id"), -32600, "mcp-session-id is required after initialize", 400)
    with _lock:
        owner = _sessions.get(session_id)
    if owner != sub:
        return _rpc_error(message.get("id"), -32001, "session not found", 404)
    if "id" not in message:  # a notification (notifications/initialized...): accepted, no answer
        return HttpResponse(status=202)
    if method == "ping":
        return _result(message["id"], {})
    if method == "tools/list":
        return _result(message["id"], {"tools": TOOLS})
    if method == "tools/call":
        return _call(message["id"], params, claims, profile or locked)
    return _rpc_error(message["id"], -32601, "method not found")


def _call(message_id: Any, params: dict[str, Any], claims: dict[str, Any],
          profile: str | None) -> JsonResponse:
    name, arguments = params.get("name"), params.get("arguments", {})
    if not isinstance(arguments, dict):
        return _rpc_error(message_id, -32602, "arguments must be an object")
    data: dict[str, Any]
    if name == "whoami":
        data = {"sub": claims["sub"], "client_id": claims.get("client_id"), "profile": profile,
                **{k: claims[k] for k in ("email", "email_verified", "name", "civic_profile", "federated_iss")
                   if k in claims}}
    elif name == "echo":
        text = arguments.get("text")
        if not isinstance(text, str) or len(text) > 2000:
            return _rpc_error(message_id, -32602, "echo needs a text of at most 2000 characters")
        data = {"text": text}
    else:
        return _rpc_error(message_id, -32602, "unknown tool")
    return _result(message_id, {"content": [{"type": "text", "text": json.dumps(data)}],
                                "structuredContent": data, "isError": False})
