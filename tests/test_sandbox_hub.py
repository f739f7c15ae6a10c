"""The sandbox's hub (``{base}hub/mcp``): MCP over streamable HTTP as Civic's hub speaks it (B4), with the
refusals a client must meet there: 401 for a missing, forged, expired or ID token, sessions that belong to
one user, a profile-locked token that cannot name another profile, malformed JSON-RPC."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import requests
from civic_mcp_client import CivicMCPClient

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def rpc(method, id_=1, **params):
    return {"jsonrpc": "2.0", "id": id_, "method": method, "params": params}


def access_token(sandbox, persona="alice", **claims):
    return sandbox.mint_oidc_token(type="access", persona=persona, claims=claims)


def post(sandbox, body, token=None, session=None, profile=None, raw=None):
    headers = dict(HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if session:
        headers["mcp-session-id"] = session
    if profile:
        headers["x-civic-profile-id"] = profile
    return requests.post(sandbox.hub_url, json=body if raw is None else None, data=raw, headers=headers,
                         timeout=10)


def open_session(sandbox, token):
    response = post(sandbox, rpc("initialize", protocolVersion="2024-11-05", capabilities={},
                                 clientInfo={"name": "t", "version": "1"}), token)
    assert response.status_code == 200 and response.json()["result"]["serverInfo"]["name"]
    return response.headers["mcp-session-id"]


def test_civics_own_client_lists_and_calls_tools(civic_sandbox):
    async def run():
        client = CivicMCPClient(auth={"token": access_token(civic_sandbox, "carol")},
                                url=civic_sandbox.hub_url, civic_profile="team-a")
        try:
            return (await client.get_tools(), await client.call_tool(name="echo", args={"text": "hi"}),
                    await client.call_tool(name="whoami", args={}), await client.get_server_instructions())
        finally:
            await client.close()

    tools, echo, who, instructions = asyncio.run(run())
    assert [tool["name"] for tool in tools["tools"]] == ["whoami", "echo"]
    assert echo["structuredContent"] == {"text": "hi"} and echo["isError"] is False
    assert who["structuredContent"]["sub"] == civic_sandbox.oidc_subject("carol")
    assert who["structuredContent"]["profile"] == "team-a" and "sandbox" in instructions


@pytest.mark.parametrize("case", ["missing", "forged", "expired", "id_token", "garbage"])
def test_a_bad_or_expired_token_is_401(civic_sandbox, case, record_figure):
    token = {
        "missing": None,
        "forged": civic_sandbox.mint_oidc_token(type="access", fault="bad_signature"),
        "expired": civic_sandbox.mint_oidc_token(type="access", fault="expired"),
        "id_token": civic_sandbox.mint_oidc_token(type="id"),
        "garbage": "not.a.token",
    }[case]
    response = post(civic_sandbox, rpc("initialize"), token)
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "mcp-session-id" not in response.headers


def test_civics_client_meets_the_401(civic_sandbox):
    async def run():
        client = CivicMCPClient(auth={"token": civic_sandbox.mint_oidc_token(type="access", fault="expired")},
                                url=civic_sandbox.hub_url)
        try:
            await client.get_tools()
        finally:
            await client.close()

    with pytest.raises(httpx.HTTPStatusError) as info:
        asyncio.run(run())
    assert info.value.response.status_code == 401


def test_sessions_belong_to_the_user_who_opened_them(civic_sandbox):
    alice, bob = access_token(civic_sandbox, "alice"), access_token(civic_sandbox, "bob")
    session = open_session(civic_sandbox, alice)
    assert post(civic_sandbox, rpc("tools/list"), alice, session).status_code == 200
    assert post(civic_sandbox, rpc("tools/list"), bob, session).status_code == 404  # not bob's
    assert post(civic_sandbox, rpc("tools/list"), alice, "made-up").status_code == 404
    assert post(civic_sandbox, rpc("tools/list"), alice).status_code == 400  # none named
    ended = requests.delete(civic_sandbox.hub_url, headers={"Authorization": f"Bearer {alice}",
                                                            "mcp-session-id": session}, timeout=10)
    assert ended.status_code == 200
    assert post(civic_sandbox, rpc("tools/list"), alice, session).status_code == 404


def test_a_token_locked_to_a_profile_cannot_name_another(civic_sandbox):
    token = access_token(civic_sandbox, civic_profile="team-a")
    assert post(civic_sandbox, rpc("initialize"), token, profile="team-b").status_code == 403
    session = open_session(civic_sandbox, token)
    who = post(civic_sandbox, rpc("tools/call", name="whoami"), token, session, profile="team-a").json()
    assert who["result"]["structuredContent"]["profile"] == "team-a"


@pytest.mark.parametrize("raw,status,code", [
    (b"{not json", 400, -32700), (b"[]", 400, -32600), (b'{"jsonrpc": "1.0", "method": "x"}', 400, -32600),
    (b"\xff\xfe", 400, -32700),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": []}', 400, -32602),
])
def test_malformed_messages_are_json_rpc_errors(civic_sandbox, raw, status, code):
    token = access_token(civic_sandbox)
    response = post(civic_sandbox, None, token, open_session(civic_sandbox, token), raw=raw)
    assert response.status_code == status and response.json()["error"]["code"] == code


def test_unknown_methods_and_tools_and_bad_arguments(civic_sandbox):
    token = access_token(civic_sandbox)
    session = open_session(civic_sandbox, token)
    assert post(civic_sandbox, rpc("nope"), token, session).json()["error"]["code"] == -32601
    assert post(civic_sandbox, rpc("tools/call", name="rm"), token, session).json()["error"]["code"] == -32602
    bad = post(civic_sandbox, rpc("tools/call", name="echo", arguments={"text": 5}), token, session).json()
    assert bad["error"]["code"] == -32602
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert post(civic_sandbox, notification, token, session).status_code == 202
    assert requests.get(civic_sandbox.hub_url, headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 405
