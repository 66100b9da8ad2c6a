"""Remote MCP servers as agent tools: the Hugging Face MCP server and any listed in the config.

Servers come from `huggingface.mcp_url` (named `hf`, sent the HF token as a bearer token) and the optional
section, validated by `load_config` into `AppConfig.mcp_servers`:

    mcp_servers:
      search: {url: "https://example.org/mcp", token: "${SEARCH_MCP_TOKEN}", timeout: 10}
      git: {command: uvx, args: [mcp-server-git, --repository, "${HOME}/repo"], env: {}, timeout: 30}

Each is reached with the official `mcp` SDK: over Streamable HTTP, or over stdio for a `command` (the SDK starts
it as a subprocess, one per operation). Its tools become `core.tools.registry.Tool`s named `<server>.<tool>`
that the agent loop offers next to our own.

What can go wrong, and what the caller gets:
- the server is down, slow, crashed or refuses the token: `McpUnavailable`, the reason in plain words
  ("no answer within 10 s", "the server process exited: …", "refused the token (HTTP 401)"); it never
  raises into the chat. A timed-out call is cancelled (`notifications/cancelled`) and its session closed.
- the tool ran and reported an error, or the server answered `tools/call` with a JSON-RPC error (bad
  arguments…): `McpToolError` with the server's own message, so the model can correct its call.
The HTTP 400 that pre-2026 servers give the SDK's `server/discover` probe is the SDK's cue to fall back to
`initialize`, never a reason: only statuses of the requests after it count.

    servers = mcp_server_configs(config, hf_token=session_hf_token)
    toolset = load_mcp_tools(servers)           # probes every server at once, each within its timeout
    toolset.add_to(registry)                    # registry.call("hf.hub_repo_search", {...})
    [(s.name, s.available, s.reason) for s in toolset.statuses]

The SDK is async; sync callers (Streamlit, the agent loop) run its coroutines on one private event loop
thread (`AsyncRunner`), so nothing depends on whether the caller already has a loop.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlparse

import anyio
import httpx2
import mcp_types
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

from core.errors import ToolError
from core.llm.config import HF_MCP_SERVER, AppConfig, McpServerConfig
from core.llm.keys import redact
from core.tools.registry import Tool, ToolRegistry, schema_problem

HF_SERVER = HF_MCP_SERVER
MAX_TOOLS_PER_SERVER = 50          # a server listing hundreds of tools would drown the model's context
MAX_ERROR_CHARS = 500              # of a remote tool's error text, kept after redaction
CLOSE_GRACE = 2.0                  # after a timeout: time to send `notifications/cancelled` and end the session
PROBE_METHOD = "server/discover"   # the SDK's first request; pre-2026 servers answer it HTTP 400
# What the SDK's HTTP transport says when a status came without a JSON-RPC body: a transport failure, not a refusal.
_TRANSPORT_STAND_INS = {"Server returned an error response", "Not Found", "Session terminated"}

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
    url: str                                       # its URL, or `stdio: command args`
    available: bool
    reason: str = ""                               # why it is unavailable, in plain words
    tools: list[str] = field(default_factory=list)
    latency_ms: float | None = None


@dataclass(frozen=True)
class Progress:
    """One `notifications/progress` a server sent while a tool ran."""

    progress: float
    total: float | None = None
    message: str | None = None

    def __str__(self) -> str:
        done = f"{self.progress:g}" + (f"/{self.total:g}" if self.total is not None else "")
        return done + (f" {self.message}" if self.message else "")


class McpConnection:
    """One MCP server. Each operation opens a short session (the HF server is stateless anyway).

    `on_progress` (optional) hears each progress notification of a running tool, e.g. for a status line."""

    def __init__(self, config: McpServerConfig, runner: AsyncRunner | None = None, *,
                 on_progress: Callable[[Progress], None] | None = None):
        self.config = config
        self.runner = runner or _DEFAULT_RUNNER
        self.on_progress = on_progress

    @property
    def name(self) -> str:
        return self.config.name

    def list_tools(self) -> list[mcp_types.Tool]:
        """The server's tools; raises `McpUnavailable` with the reason."""
        return self._run(self.alist_tools())

    def call_tool(self, name: str, arguments: Mapping[str, Any] | None = None) -> Any:
        """The tool's structured result (else its content as text, progress reported at the end);
        `McpToolError` when the tool or the server refuses the call, `McpUnavailable` when it cannot be used."""
        progress: list[Progress] = []
        result = self._run(self.acall_tool(name, arguments, progress))
        return tool_output(result, f"{self.name}.{name}", secrets=self._secrets(), progress=progress)

    def probe(self) -> McpServerStatus:
        return self._run_status(self.aprobe())

    # ----- async forms (also used by `load_mcp_tools` to probe many servers at once)

    async def alist_tools(self) -> list[mcp_types.Tool]:
        async def list_all(client: Client, budget: float) -> list[mcp_types.Tool]:
            tools: list[mcp_types.Tool] = []
            cursor = None
            while len(tools) < MAX_TOOLS_PER_SERVER:
                page = await client.list_tools(cursor=cursor)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    break
            return tools[:MAX_TOOLS_PER_SERVER]

        return await self._with_client(list_all)

    async def acall_tool(self, name: str, arguments: Mapping[str, Any] | None,
                         progress: list[Progress] | None = None) -> mcp_types.CallToolResult:
        heard = progress if progress is not None else []

        async def remember(done: float, total: float | None, message: str | None) -> None:
            heard.append(Progress(done, total, message))
            if self.on_progress is not None:
                self.on_progress(heard[-1])

        async def call(client: Client, budget: float) -> mcp_types.CallToolResult:
            try:
                # The SDK's own read timeout, not a cancelled scope: it sends `notifications/cancelled`, and the
                # session still closes properly afterwards.
                return await client.call_tool(name, dict(arguments or {}), read_timeout_seconds=budget,
                                              progress_callback=remember)
            except MCPError as exc:
                if exc.code in (REQUEST_TIMEOUT, CONNECTION_CLOSED) or exc.error.message in _TRANSPORT_STAND_INS:
                    raise
                said = redact(exc.error.message or "", self._secrets(), limit=MAX_ERROR_CHARS)
                raise McpToolError(f"{self.name}.{name} was refused by the server (JSON-RPC error {exc.code}): "
                                   f"{said or 'no details given'}") from None

        try:
            return await self._with_client(call)
        except McpUnavailable as exc:
            if heard and "no answer within" in str(exc):
                raise McpUnavailable(f"{exc} (last progress: {heard[-1]})") from None
            raise

    async def aprobe(self) -> tuple[McpServerStatus, list[mcp_types.Tool]]:
        started = time.perf_counter()
        try:
            tools = await self.alist_tools()
        except McpUnavailable as exc:
            return McpServerStatus(self.name, self.config.target, False, str(exc)), []
        latency = round((time.perf_counter() - started) * 1000, 1)
        return McpServerStatus(self.name, self.config.target, True, tools=[t.name for t in tools],
                               latency_ms=latency), tools

    # ----- plumbing

    async def _with_client(self, operation: Callable[[Client, float], Coroutine[Any, Any, T]]) -> T:
        """`operation(client, seconds_left)` on a connected SDK client, within the server's timeout.

        Connecting counts against the timeout; the operation gets what is left, and after that the session
        still has `CLOSE_GRACE` seconds to close. Any failure becomes `McpUnavailable` in plain words, except
        `McpToolError`, which the operation raises itself."""
        cfg = self.config
        statuses: list[int] = []
        errlog = tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
        started = anyio.current_time()
        outcome: list[T] = []
        try:
            with anyio.CancelScope(deadline=started + cfg.timeout) as scope:
                async with Client(self._transport(statuses, errlog), read_timeout_seconds=cfg.timeout,
                                  cache=None) as client:
                    budget = max(started + cfg.timeout - anyio.current_time(), 0.05)
                    scope.deadline = anyio.current_time() + budget + CLOSE_GRACE
                    outcome.append(await operation(client, budget))
                    scope.deadline = anyio.current_time() + CLOSE_GRACE     # closing is bounded, not the answer
            if outcome:
                return outcome[0]
            raise McpUnavailable(f"{cfg.name}: no answer within {cfg.timeout:g} s")   # the scope ran out
        except McpUnavailable:
            raise
        except Exception as exc:     # transport errors arrive wrapped in anyio's exception groups
            leaf = _first_leaf(exc)
            if isinstance(leaf, McpToolError):
                raise leaf from None
            raise McpUnavailable(explain_failure(exc, cfg, statuses, stderr=_tail(errlog))) from None
        finally:
            errlog.close()

    @asynccontextmanager
    async def _transport(self, statuses: list[int], errlog: Any):
        """The SDK transport for this server: a subprocess on stdio, or Streamable HTTP with the bearer token
        (HTTP errors are noted in `statuses`, except the discovery probe's)."""
        cfg = self.config
        if cfg.command:
            params = StdioServerParameters(command=cfg.command, args=list(cfg.args), env=dict(cfg.env) or None)
            async with stdio_client(params, errlog=errlog) as streams:
                yield streams
            return

        async def remember_status(response: httpx2.Response) -> None:
            if response.status_code >= 400 and _rpc_method(response.request) != PROBE_METHOD:
                statuses.append(response.status_code)

        headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else None
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(cfg.timeout, connect=min(cfg.timeout, 5)),
                                  event_hooks={"response": [remember_status]})
        async with http, streamable_http_client(cfg.url or "", http_client=http) as streams:
            yield streams

    def _secrets(self) -> list[str | None]:
        return [self.config.token, *self.config.env.values()]

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return self.runner.run(coro, self.config.timeout + CLOSE_GRACE + 1)
        except TimeoutError:
            raise McpUnavailable(f"{self.name}: no answer within {self.config.timeout:g} s") from None

    def _run_status(self, coro: Coroutine[Any, Any, tuple[McpServerStatus, list]]) -> McpServerStatus:
        try:
            return self._run(coro)[0]
        except McpUnavailable as exc:
            return McpServerStatus(self.name, self.config.target, False, str(exc))


def _rpc_method(request: httpx2.Request) -> str | None:
    """The JSON-RPC method a POST carried (None for a GET, a DELETE or a body that is not one request)."""
    try:
        body = json.loads(request.content or b"null")
    except (ValueError, httpx2.RequestNotRead):
        return None
    return body.get("method") if isinstance(body, dict) else None


def _tail(errlog: Any, lines: int = 3) -> str:
    """The last lines a stdio server wrote on stderr (empty for HTTP)."""
    try:
        errlog.seek(0)
        return " | ".join(line.strip() for line in errlog.read().strip().splitlines()[-lines:])
    except (ValueError, OSError):
        return ""


def explain_failure(exc: BaseException, cfg: McpServerConfig, statuses: Sequence[int] = (), *,
                    stderr: str = "") -> str:
    """Why a server could not be used, in plain words, never with the token in it.

    What happened decides first (a timeout, a crash, a refused connection); an HTTP status only explains a
    failure the transport reported without saying more."""
    leaf = _first_leaf(exc)
    where = cfg.target if cfg.command else (urlparse(cfg.url or "").netloc or cfg.url)
    status = statuses[-1] if statuses else None
    code = leaf.code if isinstance(leaf, MCPError) else None
    if isinstance(leaf, (httpx2.TimeoutException, TimeoutError)) or code == REQUEST_TIMEOUT:
        reason = f"no answer within {cfg.timeout:g} s"
    elif cfg.command and isinstance(leaf, (OSError, FileNotFoundError)) and not stderr:
        reason = f"cannot start `{cfg.command}`: {leaf.strerror or leaf}"
    elif cfg.command and (code == CONNECTION_CLOSED or isinstance(leaf, (anyio.EndOfStream, anyio.ClosedResourceError,
                                                                         anyio.BrokenResourceError, OSError))):
        reason = "the server process exited" + (f"; its last words on stderr: {stderr}" if stderr else
                                                 " without a word on stderr")
    elif status in (401, 403):
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
        reason = f"cannot connect to {where}: the server is down or the URL is wrong"
    elif code == CONNECTION_CLOSED or isinstance(leaf, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        reason = f"{where} closed the connection before answering (did the server stop or crash?)"
    elif isinstance(leaf, MCPError):
        reason = f"MCP error: {leaf.message}"
    else:
        reason = f"{type(leaf).__name__}: {leaf}"
    return redact(f"{cfg.name}: {reason}", [cfg.token, *cfg.env.values()])[:300]


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def tool_output(result: mcp_types.CallToolResult, tool_name: str, *, secrets: Sequence[str | None] = (),
                progress: Sequence[Progress] = ()) -> Any:
    """A remote tool's result as plain JSON: its structured content, else its content as text (resources'
    text, links as name and URI, images described), with the progress it reported. A reported error is
    redacted of `secrets` (the server's token) and key-shaped text before it is shortened."""
    text = "\n".join(content_text(c) for c in result.content)
    if result.is_error:
        said = redact(text.strip(), secrets, limit=MAX_ERROR_CHARS)
        raise McpToolError(f"{tool_name} reported an error: {said or 'no details given'}")
    if result.structured_content is not None:
        return result.structured_content
    if progress:
        text += f"\n[progress: {', '.join(str(p) for p in progress)}]"
    return text


def content_text(content: mcp_types.ContentBlock) -> str:
    """One content block as text a model can read."""
    if isinstance(content, mcp_types.TextContent):
        return content.text
    if isinstance(content, mcp_types.EmbeddedResource):
        resource = content.resource
        if isinstance(resource, mcp_types.TextResourceContents):
            return f"[resource {resource.uri}]\n{resource.text}"
        return f"[binary resource {resource.uri}: {resource.mime_type or 'unknown type'}, " \
               f"{_decoded_size(resource.blob)} bytes, not shown]"
    if isinstance(content, mcp_types.ResourceLink):
        about = f": {content.description}" if content.description else ""
        return f"[resource link: {content.title or content.name} <{content.uri}>{about}]"
    if isinstance(content, (mcp_types.ImageContent, mcp_types.AudioContent)):
        return f"[{content.type}: {content.mime_type}, {_decoded_size(content.data)} bytes, not shown to the model]"
    return f"[{getattr(content, 'type', 'unknown')} content not shown]"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except ValueError:
        return len(data) * 3 // 4


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
        outcomes = runner.run(probe_all(), max(s.timeout for s in servers) + CLOSE_GRACE + 1)
    except TimeoutError:
        outcomes = [McpUnavailable(f"{s.name}: no answer within {s.timeout:g} s") for s in servers]
    probed: list[tuple[McpServerStatus, list[mcp_types.Tool]]] = []
    for connection, outcome in zip(connections, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            reason = str(outcome) if isinstance(outcome, McpUnavailable) else \
                explain_failure(outcome, connection.config)
            probed.append((McpServerStatus(connection.name, connection.config.target, False, reason), []))
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
