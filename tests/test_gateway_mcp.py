"""/mcp on the console's own port: `streamlit run Home.py` in a subprocess, driven by the official MCP SDK client
(`mcp.Client` over `streamable_http_client`), plain HTTP and the MCP Inspector's `--cli`, against the fake Hub
and the fake OpenAI-compatible provider on 127.0.0.1. The same callers as the rest of the HTTP API: no token in
demo mode, else a console access token; scopes, hosted rules and usage rows per caller."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time

import httpx2
import pytest
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from core.app.gateway.tokens import TokenService, TokenSpec
from core.llm.config import McpServerConfig
from core.llm.keys import session_hash
from core.store import Store
from core.tools.mcp_client import McpConnection, McpUnavailable
from tests.browser import streamlit_server
from tests.fake_hub import FakeHub, FakeSpace
from tests.test_mcp_third_party import INSPECTOR, require_node_package

OWNER_HF = "hf_OWNERgatewaymcp0123456789abcdef"      # the console owner's HF token (hosted: never for callers)
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "plain-http", "version": "0"}}}
JSON_RPC = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
NO_KEYS = {"HF_TOKEN": "", "OPENROUTER_API_KEY": "", "OPENROUTER_KEY": "", "SPACE_ID": "", "SPACES_OS_HOSTED": "",
           "HF_HUB_DISABLE_TELEMETRY": "1"}


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as server:
        server.add_token(OWNER_HF, user="alice")
        server.add_space(FakeSpace("alice/app", sdk="docker"))
        yield server


@pytest.fixture(scope="module")
def demo_console(tmp_path_factory, hub):
    """No provider key anywhere: demo mode, where the API (and /mcp) answers without a token."""
    folder = tmp_path_factory.mktemp("mcp_demo")
    with streamlit_server(NO_KEYS | {"SPACES_OS_DB": str(folder / "demo.db"), "AGENTIC_CONFIG": "",
                                     "HF_ENDPOINT": hub.url, "HF_HOME": str(folder / "hf_home")}) as base:
        yield base, Store(str(folder / "demo.db"))


@pytest.fixture(scope="module")
def hosted_console(tmp_path_factory, hub, fake_server, fake_server_b):
    """Hosted (as on a Space), with shared keys: a chat provider (the local fake) and the owner's HF token."""
    folder = tmp_path_factory.mktemp("mcp_hosted")
    config = folder / "agentic-config.yaml"
    config.write_text(f"local:\n  url: {fake_server.url}\n  api_key: shared-local-key\n  models: [fake-model]\n"
                      f"huggingface:\n  token: {OWNER_HF}\n  url: {fake_server_b.url}\n"
                      "hosted:\n  requests_per_minute: 3\n"
                      "router:\n  max_retries: 0\n")
    db = folder / "hosted.db"
    with streamlit_server(NO_KEYS | {"SPACES_OS_DB": str(db), "AGENTIC_CONFIG": str(config), "HF_ENDPOINT": hub.url,
                                     "SPACES_OS_HOSTED": "1", "HF_HOME": str(folder / "hf_home")}) as base:
        yield base, Store(str(db))


async def _session(url: str, *calls: tuple[str, dict], token: str | None = None):
    """The official SDK client over Streamable HTTP: the tool list, then each call's result."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        listed = await client.list_tools()
        results = [await client.call_tool(name, arguments) for name, arguments in calls]
    return {t.name: t for t in listed.tools}, results


def session(base: str, *calls: tuple[str, dict], token: str | None = None):
    return asyncio.run(_session(base + "/mcp", *calls, token=token))


def usage_sessions(store: Store, request_id: str) -> set[str]:
    """The sessions of a request's usage rows, once the background writer has written them."""
    deadline = time.monotonic() + 10
    while not (rows := store.usage_rows(request_id=request_id)):
        assert time.monotonic() < deadline, f"no usage row for request {request_id}"
        time.sleep(0.1)
    return {r["session"] for r in rows}


# --------------------------------------------------------------------------- demo mode: no token needed


def test_the_sdk_client_lists_and_calls_tools_on_the_consoles_port_without_a_token_in_demo_mode(demo_console, hub):
    base, store = demo_console
    tools, [search, chat] = session(base, ("search_models", {"query": "llama", "limit": 3}),
                                    ("route_chat", {"prompt": "What's 2+2?"}))

    assert {"search_models", "search_spaces", "space_status", "restart_space", "delete_space", "route_chat"} <= set(tools)
    assert tools["search_models"].annotations.read_only_hint is True
    assert tools["route_chat"].annotations.read_only_hint is False
    assert not search.is_error
    assert search.structured_content["result"]["items"][0]["id"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert not chat.is_error and chat.structured_content["ok"] is True
    answer = chat.structured_content["result"]
    assert answer["provider"] == "demo" and answer["key_source"] == "demo" and answer["text"]
    # recorded as this caller (the anonymous API caller from 127.0.0.1), not as the standalone server's session
    assert usage_sessions(store, answer["request_id"]) == {session_hash("api-anon:127.0.0.1")}
    assert httpx2.get(base + "/_stcore/health").text == "ok"       # the console still answers on the same port


def test_a_space_change_without_the_spaces_write_scope_is_refused_and_reaches_no_hub(demo_console, hub):
    base, _ = demo_console
    hub.clear_requests()
    tools, [restart] = session(base, ("restart_space", {"space_id": "alice/app"}))

    assert "`spaces-write` scope" in tools["restart_space"].description      # says so in the list already
    assert restart.is_error and restart.structured_content["ok"] is False
    assert "`spaces-write` scope" in restart.structured_content["error"]["message"]
    assert hub.requests_to("POST") == []


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "alice-spaces-os.hf.space"])
def test_requests_for_a_local_or_a_space_host_name_are_served(demo_console, host):
    base, _ = demo_console
    port = base.rsplit(":", 1)[1]
    named = f"{host}:{port}" if not host.endswith(".hf.space") else host
    origin = f"http://{named}" if not host.endswith(".hf.space") else f"https://{host}"
    answer = httpx2.post(base + "/mcp", json=INITIALIZE, headers=JSON_RPC | {"Host": named, "Origin": origin},
                         timeout=20)
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["serverInfo"]["name"] == "spaces-os"


def test_the_mcp_inspector_cli_lists_and_calls_tools_on_the_consoles_port(demo_console, tmp_path):
    require_node_package(INSPECTOR)
    base, _ = demo_console
    url = base + "/mcp"

    def inspector(*args: str) -> dict:
        done = subprocess.run(["node", str(INSPECTOR), "--cli", url, "--transport", "http", *args], cwd=tmp_path,
                              env=dict(os.environ), capture_output=True, text=True, timeout=90)
        assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
        return json.loads(done.stdout)

    listed = inspector("--method", "tools/list")
    assert {"search_models", "route_chat"} <= {t["name"] for t in listed["tools"]}
    called = inspector("--method", "tools/call", "--tool-name", "search_models", "--tool-arg", "query=llama",
                       "--tool-arg", "limit=2")
    assert not called.get("isError") and called["structuredContent"]["ok"] is True
    assert called["structuredContent"]["result"]["items"][0]["id"] == "meta-llama/Llama-3.1-8B-Instruct"


# --------------------------------------------------------------------------- shared keys, hosted: tokens and rules


def test_without_a_token_the_hosted_console_answers_401_to_mcp_clients(hosted_console):
    base, _ = hosted_console
    refused = httpx2.post(base + "/mcp", json=INITIALIZE, headers=JSON_RPC, timeout=20)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
    error = refused.json()["error"]          # a JSON-RPC error, with the API's own type and code
    assert "console access token" in error["message"] and error["data"]["type"] == "authentication_error"
    wrong = httpx2.post(base + "/mcp", json=INITIALIZE, headers=JSON_RPC | {"Authorization": "Bearer sos_unknown"},
                        timeout=20)
    assert wrong.status_code == 401 and "unknown, revoked or expired" in wrong.json()["error"]["message"]
    with pytest.raises(BaseExceptionGroup) as err:      # the SDK client stops, with our words
        session(base)
    [refusal] = err.value.exceptions[0].exceptions
    assert isinstance(refusal, MCPError) and "console access token" in str(refusal)
    with pytest.raises(McpUnavailable, match=r"needs a token \(HTTP 401\)"):         # and so does the console's client
        McpConnection(McpServerConfig("console", base + "/mcp", timeout=10)).call_tool("route_chat", {"prompt": "x"})


def test_a_console_token_chats_on_the_shared_key_under_its_own_identity(hosted_console, fake):
    base, store = hosted_console
    issued = TokenService(store).create(TokenSpec("mcp-chat", ("chat",)))
    _, [chat, search] = session(base, ("route_chat", {"prompt": "hello over mcp", "provider": "local"}),
                                ("search_models", {"query": "llama"}), token=issued.token)

    assert not chat.is_error, chat.structured_content
    answer = chat.structured_content["result"]
    assert answer["provider"] == "local" and answer["key_source"] == "shared" and "hello over mcp" in answer["text"]
    assert fake.chat_requests[-1].headers.get("authorization") == "Bearer shared-local-key"
    assert usage_sessions(store, answer["request_id"]) == {session_hash(issued.grant.identity)}
    # a chat-only token may not use the console's Hub access
    assert search.is_error and "`spaces-read` scope" in search.structured_content["error"]["message"]


def test_hosted_the_owners_hf_token_never_acts_for_an_mcp_caller(hosted_console, hub):
    base, store = hosted_console
    issued = TokenService(store).create(TokenSpec("mcp-write", ("spaces-read", "spaces-write")))
    hub.clear_requests()
    _, [restart] = session(base, ("restart_space", {"space_id": "alice/app"}), token=issued.token)

    assert restart.is_error and restart.structured_content["error"]["kind"] == "auth"      # the Hub said: sign in
    assert all(r.authorization != f"Bearer {OWNER_HF}" for r in hub.requests_to())


def test_hosted_budgets_apply_to_mcp_callers(hosted_console, fake):
    base, store = hosted_console
    issued = TokenService(store).create(TokenSpec("mcp-budget", ("chat",)))
    calls = [("route_chat", {"prompt": f"call {i}", "provider": "local"}) for i in range(4)]
    _, results = session(base, *calls, token=issued.token)

    assert [r.is_error for r in results] == [False, False, False, True]      # hosted: 3 requests a minute
    assert "used up" in results[-1].structured_content["error"]["message"]


def test_the_inspector_cli_is_refused_without_a_token_and_lists_tools_with_one(hosted_console, tmp_path):
    require_node_package(INSPECTOR)
    base, store = hosted_console
    issued = TokenService(store).create(TokenSpec("inspector", ("chat", "spaces-read")))
    command = ["node", str(INSPECTOR), "--cli", base + "/mcp", "--transport", "http", "--method", "tools/list"]
    refused = subprocess.run(command, cwd=tmp_path, env=dict(os.environ), capture_output=True, text=True, timeout=90)
    assert refused.returncode != 0, "without a token the hosted console must refuse"
    listed = subprocess.run([*command, "--header", f"Authorization: Bearer {issued.token}"], cwd=tmp_path,
                            env=dict(os.environ), capture_output=True, text=True, timeout=90)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "route_chat" in {t["name"] for t in json.loads(listed.stdout)["tools"]}
