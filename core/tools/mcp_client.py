"""Remote MCP servers as agent tools: the Hugging Face MCP server and any listed in the config.

Servers come from `huggingface.mcp_url` (named `hf`, sent the HF token as a bearer token) and the optional
section, validated by `load_config` into `AppConfig.mcp_servers`:

    mcp_servers:
      search: {url: "https://example.org/mcp", token: "${SEARCH_MCP_TOKEN}", timeout: 10}

Each is reached over Streamable HTTP with the official `mcp` SDK. Its tools become `core.tools.registry.Tool`s named
`<server>.<tool>` that the agent loop offers next to our own. A server that is down, slow or refuses the
token is reported as unavailable with the reason in plain words; it never raises into the chat.

    servers = mcp_server_configs(config, hf_token=session_hf_token)
    toolset = load_mcp_tools(servers)           # probes every server at once, each within its timeout
    toolset.add_to(registry)                    # registry.call("hf.hub_repo_search", {...})
    [(s.name, s.available, s.reason) for s in toolset.statuses]

The SDK is async; sync callers (Streamlit, the agent loop) run its coroutines on one private event loop
thread (`AsyncRunner`), so nothing depends on whether the caller already has a loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

import anyio
import httpx2
import mcp_types
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from core.errors import ToolError
from core.llm.config import HF_MCP_SERVER, AppConfig, McpServerConfig
from core.llm.keys import redact
from core.tools.registry import Tool, ToolRegistry, schema_problem

HF_SERVER = HF_MCP_SERVER
MAX_TOOLS_PER_SERVER = 50          # a server listing hundreds of tools would drown the model's context
MAX_ERROR_CHARS = 500              # of a remote tool's error text, kept after redaction

T = TypeVar("T")


class McpUnavailable(ToolError):
    """The server could not be used (down, slow, refused the token); the message says why, in plain words."""


class McpToolError(ToolError):
    """The remote tool ran and reported an error."""


# --------------------------------------------------------------------------- config


def mcp_server_configs(config: AppConfig, *, hf_token: str | None = None,
                       use_shared_hf_token: bool = False) -> list[McpServerConfig]:
    """The MCP servers this config names: `hf` (from `huggingface.mcp_url`) first, then `mcp_servers:`
    (validated when the config loaded).

    `hf_token` is the session's HF token. The shared HF key is used for the HF server only with
    `use_shared_hf_token=True`: in hosted mode a visitor must not act on the Hub as the owner."""
    servers = []
    if config.mcp_url:
        hf = next((p for p in config.providers if p.kind == "huggingface"), None)
        token = hf_token or (hf.api_key if hf is not None and use_shared_hf_token else None)
        servers.append(McpServerConfig(HF_SERVER, config.mcp_url, token))
    return servers + list(config.mcp_servers)


# --------------------------------------------------------------------------- running async code from sync code


class AsyncRunner:
    """One private event loop on a daemon thread; `run` blocks the caller until a coroutine is done."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed() or not (self._thread and self._thread.is_alive()):
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-client-loop", daemon=True)
                self._thread.start()
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """The coroutine's result; `TimeoutError` after `timeout` seconds (the coroutine is then cancelled)."""
        loop = self._ensure_loop()
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("AsyncRunner.run was called from its own loop; await the coroutine instead.")
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:g} s") from None

    def close(self) -> None:
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loop.stop)
                if self._thread is not None:
                    self._thread.join(timeout=5)
                self._loop.close()
            self._loop = self._thread = None


_DEFAULT_RUNNER = AsyncRunner()


# --------------------------------------------------------------------------- one server


@dataclass
class McpServerStatus:
    name: str
    url: str
    available: bool
    reason: str = ""                               # why it is unavailable, in plain words
    tools: list[str] = field(default_factory=list)
    latency_ms: float | None = None


class McpConnection:
    """One remote MCP server. Each operation opens a short session (the HF server is stateless anyway)."""

    def __init__(self, config: McpServerConfig, runner: AsyncRunner | None = None):
        self.config = config
        self.runner = runner or _DEFAULT_RUNNER

    @property
    def name(self) -> str:
        return self.config.name

    def list_tools(self) -> list[mcp_types.Tool]:
        """The server's tools; raises `McpUnavailable` with the reason."""
        return self._run(self.alist_tools())

    def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """The tool's structured result (else its text); `McpToolError` when the tool reports an error."""
        return tool_output(self._run(self.acall_tool(name, arguments)), f"{self.name}.{name}",
                           secrets=[self.config.token])

    def probe(self) -> McpServerStatus:
        return self._run_status(self.aprobe())

    # ----- async forms (also used by `load_mcp_tools` to probe many servers at once)

    async def alist_tools(self) -> list[mcp_types.Tool]:
        async with self._client() as client:
            tools: list[mcp_types.Tool] = []
            cursor = None
            while len(tools) < MAX_TOOLS_PER_SERVER:
                page = await client.list_tools(cursor=cursor)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    break
            return tools[:MAX_TOOLS_PER_SERVER]

    async def acall_tool(self, name: str, arguments: Mapping[str, Any] | None) -> mcp_types.CallToolResult:
        async with self._client() as client:
            return await client.call_tool(name, dict(arguments or {}))

    async def aprobe(self) -> tuple[McpServerStatus, list[mcp_types.Tool]]:
        started = time.perf_counter()
        try:
            tools = await self.alist_tools()
        except McpUnavailable as exc:
            return McpServerStatus(self.name, self.config.url, False, str(exc)), []
        latency = round((time.perf_counter() - started) * 1000, 1)
        return McpServerStatus(self.name, self.config.url, True, tools=[t.name for t in tools],
                               latency_ms=latency), tools

    # ----- plumbing

    @asynccontextmanager
    async def _client(self):
        """A connected SDK client; any failure inside becomes `McpUnavailable` in plain words."""
        statuses: list[int] = []

        async def remember_status(response: httpx2.Response) -> None:
            if response.status_code >= 400:
                statuses.append(response.status_code)

        cfg = self.config
        headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else None
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(cfg.timeout, connect=min(cfg.timeout, 5)),
                                  event_hooks={"response": [remember_status]})
        try:
            with anyio.fail_after(cfg.timeout):
                async with http, Client(streamable_http_client(cfg.url, http_client=http),
                                        read_timeout_seconds=cfg.timeout, cache=None) as client:
                    yield client
        except Exception as exc:     # transport errors arrive wrapped in anyio's exception groups
            raise McpUnavailable(explain_failure(exc, cfg, statuses)) from None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self.runner.run(coro, self.config.timeout + 2)
        except TimeoutError:
            raise McpUnavailable(f"{self.name}: no answer within {self.config.timeout:g} s") from None

    def _run_status(self, coro: Coroutine[Any, Any, tuple[McpServerStatus, list]]) -> McpServerStatus:
        try:
            return self._run(coro)[0]
        except McpUnavailable as exc:
            return McpServerStatus(self.name, self.config.url, False, str(exc))


def explain_failure(exc: BaseException, cfg: McpServerConfig, statuses: Sequence[int] = ()) -> str:
    """Why a server could not be used, in plain words, never with the token in it."""
    leaf = _first_leaf(exc)
    host = urlparse(cfg.url).netloc or cfg.url
    status = statuses[-1] if statuses else None
    if status in (401, 403):
        if not cfg.token:
            reason = f"needs a token (HTTP {status}); set one for `{cfg.name}`"
        elif status == 401:
            reason = "refused the token (HTTP 401); check that it is valid"
        else:
            reason = "accepted the token but denies access (HTTP 403); check its permissions"
    elif status == 404:
        reason = "has no MCP endpoint at this URL (HTTP 404)"
    elif status is not None:
        reason = f"answered HTTP {status}"
    elif isinstance(leaf, httpx2.ConnectError):
        reason = f"cannot connect to {host}: the server is down or the URL is wrong"
    elif isinstance(leaf, (httpx2.TimeoutException, TimeoutError)):
        reason = f"no answer within {cfg.timeout:g} s"
    elif isinstance(leaf, MCPError):
        reason = f"MCP error: {leaf.message}"
    else:
        reason = f"{type(leaf).__name__}: {leaf}"
    return redact(f"{cfg.name}: {reason}", [cfg.token])[:300]


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def tool_output(result: mcp_types.CallToolResult, tool_name: str, *, secrets: Sequence[str | None] = ()) -> Any:
    """A remote tool's result as plain JSON: its structured content, else its text. A reported error is
    redacted of `secrets` (the server's token) and key-shaped text before it is shortened."""
    texts = [c.text for c in result.content if isinstance(c, mcp_types.TextContent)]
    skipped = [c.type for c in result.content if not isinstance(c, mcp_types.TextContent)]
    text = "\n".join(texts) + "".join(f"\n[{kind} content omitted]" for kind in skipped)
    if result.is_error:
        said = redact(text.strip(), secrets, limit=MAX_ERROR_CHARS)
        raise McpToolError(f"{tool_name} reported an error: {said or 'no details given'}")
    if result.structured_content is not None:
        return result.structured_content
    return text


# --------------------------------------------------------------------------- many servers as tools


@dataclass
class McpToolset:
    statuses: list[McpServerStatus]
    tools: list[Tool]

    @property
    def unavailable(self) -> list[McpServerStatus]:
        return [s for s in self.statuses if not s.available]

    def add_to(self, registry: ToolRegistry) -> list[str]:
        """Register the remote tools (a name already taken is skipped); returns the names added."""
        added = []
        for tool in self.tools:
            if tool.name not in registry:
                registry.register(tool)
                added.append(tool.name)
        return added


def remote_tool(connection: McpConnection, remote: mcp_types.Tool) -> Tool | None:
    """A remote tool as one of ours, `<server>.<tool>`; None when its schema is not a valid object schema.

    Anything not marked read-only is treated as mutating, so the agent asks before calling it."""
    schema = dict(remote.input_schema or {})
    schema.setdefault("type", "object")
    if schema["type"] != "object" or schema_problem(schema):
        return None
    annotations = remote.annotations
    read_only = bool(annotations and annotations.read_only_hint)
    name = remote.name

    def call(**arguments: Any) -> Any:
        return connection.call_tool(name, arguments)

    description = (remote.description or remote.title or name).strip()
    return Tool(f"{connection.name}.{name}", f"[{connection.name} MCP server] {description}"[:1024], schema, call,
                mutating=not read_only)


def probe_servers(servers: Sequence[McpServerConfig], *,
                  runner: AsyncRunner | None = None) -> list[tuple[McpServerStatus, list[mcp_types.Tool]]]:
    """Each server's status and tool listing, in order; all probed at once, each within its own timeout."""
    if not servers:
        return []
    runner = runner or _DEFAULT_RUNNER
    connections = [McpConnection(s, runner) for s in servers]

    async def probe_all() -> list[Any]:
        return await asyncio.gather(*(c.aprobe() for c in connections), return_exceptions=True)

    try:
        outcomes = runner.run(probe_all(), max(s.timeout for s in servers) + 2)
    except TimeoutError:
        outcomes = [McpUnavailable(f"{s.name}: no answer within {s.timeout:g} s") for s in servers]
    probed: list[tuple[McpServerStatus, list[mcp_types.Tool]]] = []
    for connection, outcome in zip(connections, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            reason = str(outcome) if isinstance(outcome, McpUnavailable) else \
                explain_failure(outcome, connection.config)
            probed.append((McpServerStatus(connection.name, connection.config.url, False, reason), []))
        else:
            probed.append(outcome)
    return probed


def load_mcp_tools(servers: Sequence[McpServerConfig], *, runner: AsyncRunner | None = None) -> McpToolset:
    """Probe every server at once (each bounded by its own timeout) and wrap the tools of those that answer."""
    runner = runner or _DEFAULT_RUNNER
    statuses: list[McpServerStatus] = []
    tools: list[Tool] = []
    for server, (status, listed) in zip(servers, probe_servers(servers, runner=runner), strict=True):
        statuses.append(status)
        connection = McpConnection(server, runner)
        tools += [t for t in (remote_tool(connection, r) for r in listed) if t is not None]
    return McpToolset(statuses, tools)
