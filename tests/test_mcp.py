"""Real MCP round trips on 127.0.0.1, both ways.

Our server (`python -m core.app.mcp_server --http PORT`, a subprocess against the fake Hub and the fake model
servers) driven by the SDK's own client; and our client (`core.tools.mcp_client`) driving a small MCPServer written
here, plus a down server, a server that refuses the token and a server too slow to answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2
import mcp_types
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.app.mcp_server import McpServices, build_server, route_chat_tool
from core.hub.client import HubClient, SearchCache
from core.hub.spaces import SpaceManager
from core.llm.config import load_config
from core.llm.router import Router
from core.store import Store
from core.tools.agent_loop import AgentLoop
from core.tools.mcp_client import (
    McpConnection,
    McpServerConfig,
    McpToolError,
    McpUnavailable,
    load_mcp_tools,
)
from core.tools.registry import ToolRegistry, build_hub_tools
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeSpace
from tests.fake_openai import Reply, Status

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "test-mcp-token"
SERVER_TOKEN = "our-mcp-server-token-0001"     # what clients of our own server must send


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server exited early: {proc.stderr.read().decode(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


# --------------------------------------------------------------------------- our server, driven by the SDK client


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as server:
        yield server


@pytest.fixture(scope="module")
def server_env(hub: FakeHub, fake_server, fake_server_b, tmp_path_factory) -> dict[str, str]:
    """Config with two providers (alpha first, beta as fallback), the fake Hub, and a store file."""
    folder = tmp_path_factory.mktemp("mcp_server")
    config = folder / "agentic-config.yaml"
    config.write_text(f"alpha:\n  url: {fake_server.url}\n  api_key: shared-alpha\n  priority: 1\n"
                      f"beta:\n  url: {fake_server_b.url}\n  api_key: shared-beta\n  priority: 2\n"
                      "router:\n  max_retries: 0\n")
    return {"AGENTIC_CONFIG": str(config), "SPACES_OS_DB": str(folder / "spaces_os.db"), "HF_ENDPOINT": hub.url,
            "HF_TOKEN": SENTINEL_HF, "HF_HOME": str(folder / "hf_home"), "HF_HUB_DISABLE_TELEMETRY": "1",
            "PYTHONPATH": str(ROOT), "SPACES_OS_MCP_TOKEN": SERVER_TOKEN}


def start_our_server(env: dict[str, str], *flags: str) -> tuple[subprocess.Popen, str]:
    """`python -m core.app.mcp_server --http PORT [flags]` as a subprocess; returns it and its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "AGENTIC_CONFIG", "SPACES_OS_MCP_TOKEN")} \
        | env
    proc = subprocess.Popen([sys.executable, "-m", "core.app.mcp_server", "--http", str(port), *flags], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_port(port, proc)
    return proc, f"http://127.0.0.1:{port}/mcp"


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@pytest.fixture(scope="module")
def spaces_os_server(server_env: dict[str, str]):
    """`python -m core.app.mcp_server --http PORT` as a subprocess; yields its URL."""
    proc, url = start_our_server(server_env)
    try:
        yield url
    finally:
        stop(proc)


@pytest.fixture
def seeded_hub(hub: FakeHub) -> FakeHub:
    hub.reset()
    hub.add_token(SENTINEL_HF, user="alice")
    hub.add_space(FakeSpace("alice/app", sdk="docker", run_logs=["booting\n", "ready\n"]))
    return hub


async def _session(url: str, *calls: tuple[str, dict], token: str | None = SERVER_TOKEN) -> tuple[list, list]:
    """The SDK's own client, over HTTP with `Authorization: Bearer <token>`."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    async with httpx2.AsyncClient(headers=headers, timeout=20) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        listed = await client.list_tools()
        results = [await client.call_tool(name, arguments) for name, arguments in calls]
    return listed.tools, results


def test_the_sdk_client_lists_our_tools_and_searches_the_fake_hub(spaces_os_server, seeded_hub):
    tools, [search, status] = asyncio.run(_session(
        spaces_os_server, ("search_models", {"query": "llama", "limit": 3}),
        ("space_status", {"space_id": "alice/app"})))

    names = {t.name for t in tools}
    assert {"search_models", "search_spaces", "model_details", "space_status", "space_logs", "restart_space",
            "delete_space", "route_chat"} <= names
    delete = next(t for t in tools if t.name == "delete_space")
    assert delete.annotations.destructive_hint and "--allow-mutations" in delete.description
    hints = {t.name: t.annotations.read_only_hint for t in tools}
    assert hints["search_models"] is True and hints["delete_space"] is False
    assert hints["route_chat"] is False, "route_chat spends the configured keys' credit: not read-only"
    assert not search.is_error
    assert search.structured_content["result"]["items"][0]["id"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert json.loads(search.content[0].text) == search.structured_content
    assert seeded_hub.last("GET", "/api/models").param("search") == "llama"
    assert status.structured_content["result"]["stage"] == "RUNNING"


def test_route_chat_goes_through_the_router_with_fallback_and_records_usage(spaces_os_server, server_env, fake,
                                                                           fake_b, seeded_hub):
    fake.default = Status(500, "alpha is down")
    fake_b.queue(Reply("Paris.", tokens_in=11, tokens_out=2))
    _, [answer] = asyncio.run(_session(spaces_os_server, ("route_chat", {"prompt": "Capital of France?"})))

    result = answer.structured_content["result"]
    assert not answer.is_error and result["text"] == "Paris."
    assert result["provider"] == "beta" and result["fallback_chain"] == ["alpha: unavailable"]
    assert fake_b.chat_requests[0].body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    store = Store(server_env["SPACES_OS_DB"])
    deadline = time.monotonic() + 5
    while len(rows := store.usage_rows(request_id=result["request_id"])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(r["provider"], r["outcome"]) for r in rows] == [("alpha", "unavailable"), ("beta", "ok")]
    assert rows[1]["tokens_in"] == 11 and rows[1]["key_source"] == "shared" and rows[1]["session"]


def test_mutating_tools_are_refused_without_the_server_flag(spaces_os_server, seeded_hub):
    _, [refused, bad] = asyncio.run(_session(
        spaces_os_server, ("delete_space", {"space_id": "alice/app", "confirm": "alice/app"}),
        ("search_models", {"limit": 999})))

    assert refused.is_error and refused.structured_content["error"]["kind"] == "refused"
    assert "--allow-mutations" in refused.structured_content["error"]["message"]
    assert seeded_hub.requests_to("DELETE") == [] and "alice/app" in seeded_hub.spaces
    assert bad.is_error and "arguments.limit" in bad.structured_content["error"]["message"]


def test_with_the_flag_mutations_run_and_a_failed_route_chat_is_an_error_result(seeded_hub, fake, db_path):
    store = Store(db_path)
    router = Router(load_config({"alpha": {"url": fake.url, "api_key": "k"}, "router": {"max_retries": 0}}, env={}),
                    store)
    client = HubClient(seeded_hub.url, SENTINEL_HF, cache=SearchCache())
    registry = build_hub_tools(client, SpaceManager(client, store=store, session="s"))
    registry.register(route_chat_tool(router))
    server = build_server(McpServices(router, registry, allow_mutations=True))
    fake.default = Status(401, "bad key")

    async def calls():
        async with Client(server) as mcp:      # the SDK's in-process connection to our server object
            return (await mcp.call_tool("delete_space", {"space_id": "alice/app", "confirm": "alice/app"}),
                    await mcp.call_tool("route_chat", {"prompt": "hi"}))

    deleted, failed = asyncio.run(calls())
    assert not deleted.is_error and "alice/app" not in seeded_hub.spaces
    assert failed.is_error and failed.structured_content["error"]["kind"] == "failed"
    message = failed.structured_content["error"]["message"]
    assert "No provider could answer" in message and "alpha / default model with shared key: key refused" in message


def test_the_stdio_mode_serves_the_same_tools(server_env):
    params = StdioServerParameters(command=sys.executable, args=["-m", "core.app.mcp_server"], cwd=str(ROOT),
                                   env=server_env)

    async def listed() -> list[str]:
        async with Client(params) as client:
            return [t.name for t in (await client.list_tools()).tools]

    names = asyncio.run(listed())
    assert "route_chat" in names and "search_spaces" in names


# --------------------------------------------------------------------------- our server's bearer token


JSON_RPC = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": mcp_types.LATEST_PROTOCOL_VERSION, "capabilities": {},
                         "clientInfo": {"name": "test", "version": "0"}}}


def printed_token(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    """The generated token the server printed on stderr at start (fails after `timeout` without one)."""
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 0.2)[0]:
            seen += os.read(proc.stderr.fileno(), 4096)
            if found := re.search(rb"Bearer ([\w-]{16,})`", seen):
                return found.group(1).decode()
    raise AssertionError(f"no token printed on stderr within {timeout:g} s: {seen.decode(errors='replace')!r}")


# --------------------------------------------------------------------------- our client, driving a test server


def notes_server() -> MCPServer:
    server = MCPServer("notes")

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.tool()
    def remember(text: str) -> str:
        """Store a note (changes state, so not read-only)."""
        return f"noted: {text}"

    @server.tool(annotations=ToolAnnotations(read_only_hint=True))
    def broken() -> str:
        """Always fails."""
        raise ToolError("the notebook is on fire")

    return server


def require_bearer(app, token: str):
    """ASGI wrapper: 401 unless `Authorization: Bearer <token>`; remembers the headers it saw."""
    seen: list[str] = []

    async def guarded(scope, receive, send):
        if scope["type"] == "http":
            auth = dict(scope["headers"]).get(b"authorization", b"").decode()
            seen.append(auth)
            if auth != f"Bearer {token}":
                await JSONResponse({"error": "invalid_token"}, status_code=401)(scope, receive, send)
                return
        await app(scope, receive, send)

    guarded.seen = seen
    return guarded


async def _slow(request):
    await asyncio.sleep(3)
    return JSONResponse({})


class ThreadedServer:
    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="test-mcp-server")

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


@pytest.fixture(scope="module")
def notes():
    app = require_bearer(notes_server().streamable_http_app(), TOKEN)
    with ThreadedServer(app) as running:
        running.seen = app.seen
        yield running


@pytest.fixture(scope="module")
def slow():
    with ThreadedServer(Starlette(routes=[Route("/mcp", _slow, methods=["POST", "GET"])])) as running:
        yield running


def test_our_client_lists_and_calls_a_servers_tools_with_the_bearer_token(notes):
    toolset = load_mcp_tools([McpServerConfig("notes", notes.url, TOKEN)])

    [status] = toolset.statuses
    assert status.available and sorted(status.tools) == ["add", "broken", "remember"] and status.reason == ""
    registry = ToolRegistry()
    assert sorted(toolset.add_to(registry)) == ["notes.add", "notes.broken", "notes.remember"]
    assert registry.call("notes.add", {"a": 2, "b": 3}) == {"result": 5}
    assert not registry.get("notes.add").mutating and registry.get("notes.remember").mutating
    assert registry.get("notes.add").description.startswith("[notes MCP server] Add two numbers.")
    assert set(notes.seen) == {f"Bearer {TOKEN}"}
    with pytest.raises(McpToolError, match="notebook is on fire"):
        registry.call("notes.broken", {})


def test_down_refusing_and_slow_servers_are_unavailable_with_the_reason_and_the_rest_still_work(notes, slow):
    servers = [McpServerConfig("down", f"http://127.0.0.1:{free_port()}/mcp", timeout=3),
               McpServerConfig("wrongkey", notes.url, SENTINEL_HF, timeout=3),
               McpServerConfig("nokey", notes.url, timeout=3),
               McpServerConfig("slow", slow.url, timeout=0.5),
               McpServerConfig("notes", notes.url, TOKEN, timeout=3)]
    started = time.monotonic()
    toolset = load_mcp_tools(servers)

    assert time.monotonic() - started < 3, "servers are probed at once, each within its own timeout"
    reasons = {s.name: s.reason for s in toolset.statuses if not s.available}
    assert reasons["down"] == f"down: cannot connect to 127.0.0.1:{servers[0].url.split(':')[2][:-4]}: the " \
                              "server is down or the URL is wrong"
    assert reasons["wrongkey"] == "wrongkey: refused the token (HTTP 401); check that it is valid"
    assert reasons["nokey"] == "nokey: needs a token (HTTP 401); set one for `nokey`"
    assert reasons["slow"] == "slow: no answer within 0.5 s"
    assert [s.name for s in toolset.statuses if s.available] == ["notes"]
    assert {t.name for t in toolset.tools} == {"notes.add", "notes.broken", "notes.remember"}
    assert SENTINEL_HF not in json.dumps([s.__dict__ for s in toolset.statuses])
    with pytest.raises(McpUnavailable, match="refused the token"):
        McpConnection(servers[1]).list_tools()


def test_the_agent_offers_remote_tools_next_to_ours_and_gates_the_non_read_only_ones(notes, fake, db_path):
    registry = ToolRegistry()
    load_mcp_tools([McpServerConfig("notes", notes.url, TOKEN)]).add_to(registry)
    router = Router(load_config({"local": {"url": fake.url, "api_key": "k"}}, env={}), Store(db_path))
    fake.queue(Reply(tool_calls=[{"id": "c1", "type": "function",
                                  "function": {"name": "notes_add", "arguments": '{"a": 40, "b": 2}'}}]),
               Reply(tool_calls=[{"id": "c2", "type": "function",
                                  "function": {"name": "notes_remember", "arguments": '{"text": "42"}'}}]),
               Reply("Done."))
    loop = AgentLoop(router, registry)
    result = loop.run([{"role": "user", "content": "add and remember"}])

    assert {"notes_add", "notes_remember"} <= {t["function"]["name"] for t in fake.chat_requests[0].body["tools"]}
    assert json.loads(fake.chat_requests[1].body["messages"][-1]["content"]) == {"ok": True, "result": {"result": 42}}
    assert result.pending.tool == "notes.remember"
    done = loop.continue_after_confirmation(result.pending, approved=True)
    assert done.text == "Done." and done.steps[-1].result == {"ok": True, "result": {"result": "noted: 42"}}


def test_sync_calls_work_even_from_inside_a_running_event_loop(notes):
    async def inside_a_loop() -> list[str]:
        return [t.name for t in McpConnection(McpServerConfig("notes", notes.url, TOKEN)).list_tools()]

    assert "add" in asyncio.run(inside_a_loop())
