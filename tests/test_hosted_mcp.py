"""Hosted safety, item 13: our MCP server over HTTP needs a bearer token. Any local process can reach
127.0.0.1, and `route_chat` spends the configured keys' credit, so nothing runs without the token.
Real server processes on 127.0.0.1, driven by the official SDK client and plain HTTP."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from core.llm.config import McpServerConfig
from core.tools.mcp_client import McpConnection, McpUnavailable
from tests.test_mcp import (  # noqa: F401  (module fixtures: a fake Hub, our server's env, the running server)
    INITIALIZE,
    JSON_RPC,
    SERVER_TOKEN,
    _session,
    hub,
    printed_token,
    seeded_hub,
    server_env,
    spaces_os_server,
    start_our_server,
    stop,
)


def test_our_http_server_refuses_a_request_without_the_right_bearer_token(spaces_os_server):  # noqa: F811
    for auth in ({}, {"Authorization": "Bearer wrong-token-0000000000"}, {"Authorization": SERVER_TOKEN}):
        refused = httpx2.post(spaces_os_server, json=INITIALIZE, headers=JSON_RPC | auth, timeout=10)
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["error"] == "invalid_token"
    accepted = httpx2.post(spaces_os_server, json=INITIALIZE, timeout=10,
                           headers=JSON_RPC | {"Authorization": f"Bearer {SERVER_TOKEN}"})
    assert accepted.status_code == 200 and accepted.json()["result"]["serverInfo"]["name"] == "spaces-os"
    with pytest.raises(McpUnavailable, match=r"needs a token \(HTTP 401\)"):
        McpConnection(McpServerConfig("ours", spaces_os_server, timeout=5)).call_tool("route_chat", {"prompt": "hi"})



def test_with_allow_mutations_a_space_is_deleted_only_with_the_token_printed_at_start(server_env, seeded_hub):  # noqa: F811,E501
    env = {k: v for k, v in server_env.items() if k != "SPACES_OS_MCP_TOKEN"}
    proc, url = start_our_server(env, "--allow-mutations")
    try:
        token = printed_token(proc)
        delete = ("delete_space", {"space_id": "alice/app", "confirm": "alice/app"})
        with pytest.raises(McpUnavailable, match=r"needs a token \(HTTP 401\)"):
            McpConnection(McpServerConfig("ours", url, timeout=5)).call_tool(*delete)
        with pytest.raises(McpUnavailable, match=r"refused the token \(HTTP 401\)"):
            McpConnection(McpServerConfig("ours", url, SERVER_TOKEN, timeout=5)).call_tool(*delete)
        assert seeded_hub.requests_to("DELETE") == [] and "alice/app" in seeded_hub.spaces

        _, [deleted] = asyncio.run(_session(url, delete, token=token))
        assert not deleted.is_error and "alice/app" not in seeded_hub.spaces
    finally:
        stop(proc)
