"""Spaces OS as an MCP server: Hub search and details, Space status, logs and lifecycle, and `route_chat`.

    python /path/to/spaces-os/core/app/mcp_server.py   # stdio: an MCP client starts it as a subprocess
    python -m core.app.mcp_server --http 8765          # Streamable HTTP at http://127.0.0.1:8765/mcp
    python -m core.app.mcp_server --allow-mutations    # let clients restart, pause and delete Spaces

It does not depend on the folder it is started from (MCP clients start it from anywhere): the config is
`$AGENTIC_CONFIG`, else the project's own agentic-config.yaml (next to Home.py), else the environment; the
store is `$SPACES_OS_DB`, else the project's data/spaces_os.db. It says on stderr which it uses. The Hub is
`$HF_ENDPOINT` with the configured HF token. `route_chat`
goes through the router (fallback, cooldowns) and records usage like the console does. Tools that change
a Space are listed but refuse to run unless the server was started with `--allow-mutations`: the
client's user never sees our confirmation dialog, so the server's owner decides up front.

Over HTTP every request needs `Authorization: Bearer <token>` (else 401): any local process can reach
127.0.0.1, and `route_chat` spends the configured keys' credit. The token is `$SPACES_OS_MCP_TOKEN`, or a
fresh one printed on stderr at start. stdio needs none: only the client that started the server talks to it.

The console serves the same server at /mcp on its own port (core/app/gateway/mcp_route.py), with the HTTP
API's callers instead of one owner: `build_server` then takes a function giving each request its caller's
tools, and `McpServices.refuse` says what that caller may not run.
"""

from __future__ import annotations

import argparse
import hmac
import json
import logging
import os
import secrets
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):    # started as a file by an MCP client, from any folder: import this project's
    sys.path[0] = str(Path(__file__).resolve().parents[2])     # `core`, never core/app's own modules

import anyio
import mcp_types
from mcp.server import Server
from mcp.server.stdio import stdio_server
from starlette.responses import JSONResponse

from core.app.services import build_services
from core.errors import ConfigError, SpacesOSError
from core.hub.client import DEFAULT_ENDPOINT, HubClient, SearchCache
from core.hub.spaces import SpaceManager
from core.llm.config import find_config_path
from core.llm.router import ChatResult, Router
from core.store import default_db_path
from core.tools.registry import JSON, Tool, ToolRegistry, build_hub_tools

log = logging.getLogger("spaces_os.mcp_server")

PROJECT_ROOT = Path(__file__).resolve().parents[2]     # where Home.py, agentic-config.yaml and data/ live

SERVER_NAME = "spaces-os"
SESSION = "mcp-server"           # usage rows and Space actions from MCP clients are grouped under this
TOKEN_ENV = "SPACES_OS_MCP_TOKEN"
MIN_TOKEN_CHARS = 16
MUTATIONS_OFF = " Disabled on this server: it was started without --allow-mutations."
INSTRUCTIONS = ("Spaces OS: search the Hugging Face Hub, read Space status and logs, and send chat requests "
                "through a router with provider fallback (`route_chat`). Tools that change a Space run only "
                "when the server was started with --allow-mutations.")


@dataclass
class McpServices:
    router: Router
    registry: ToolRegistry
    allow_mutations: bool = False
    # Why one caller may not run a tool, in plain words (the console's /mcp: the caller's scopes); None: the
    # standalone server's rule, Space changes only with --allow-mutations.
    refuse: Callable[[Tool], str | None] | None = None

    def refusal(self, tool: Tool) -> str | None:
        """Why `tool` may not run here, or None when it may."""
        if self.refuse is not None:
            return self.refuse(tool)
        if tool.mutating and not self.allow_mutations:
            return (f"`{tool.name}` changes a Space, and this MCP server was started without --allow-mutations, "
                    "so nothing was done. Ask its owner to restart it with --allow-mutations, or use the Spaces "
                    "OS console.")
        return None

    def note(self, tool: Tool) -> str:
        """What a tool's description adds when this caller may not run it."""
        why = self.refusal(tool)
        return "" if why is None else MUTATIONS_OFF if self.refuse is None else f" Refused for this caller: {why}"


@dataclass(frozen=True)
class ServerPaths:
    """The config file (None: providers from the environment) and the database this server uses, and why."""

    config: Path | None
    config_source: str
    db: Path

    def describe(self) -> str:
        config = f"{self.config} ({self.config_source})" if self.config else f"none ({self.config_source})"
        return f"config: {config}; database: {self.db}"


def server_paths(env: Mapping[str, str], root: Path = PROJECT_ROOT) -> ServerPaths:
    """Where the config and the database are, whatever the working directory: `$AGENTIC_CONFIG` and
    `$SPACES_OS_DB` when set, else in the project `root`. Raises `ConfigError` for a missing $AGENTIC_CONFIG."""
    config = find_config_path(env, cwd=root)
    source = ("from $AGENTIC_CONFIG" if env.get("AGENTIC_CONFIG") else f"found in {root}") if config else \
        f"no agentic-config.yaml in {root}; providers from the environment"
    db = Path(default_db_path(dict(env)))
    return ServerPaths(config.resolve() if config else None, source, db if db.is_absolute() else root / db)


def build_mcp_services(env: Mapping[str, str] | None = None, *, allow_mutations: bool = False,
                       root: Path = PROJECT_ROOT) -> McpServices:
    """The console's composition root (config, store, router, manager) → Hub client, Space manager → the
    tool registry, so MCP clients route exactly as the pages do. Paths as `server_paths`; raises `ConfigError`."""
    env = dict(os.environ) if env is None else dict(env)
    paths = server_paths(env, root)
    env["SPACES_OS_DB"] = str(paths.db)
    if paths.config is not None:
        env["AGENTIC_CONFIG"] = str(paths.config)
    svc = build_services(env, cwd=root)
    if svc.router is None:
        raise ConfigError(svc.config_error or "the provider config could not be loaded")
    hf = next((p for p in svc.config.providers if p.kind == "huggingface"), None)
    token = (hf.api_key if hf is not None else None) or env.get("HF_TOKEN") or None     # the server owner's
    hub = HubClient(svc.hub_endpoint or DEFAULT_ENDPOINT, token, cache=SearchCache())
    registry = build_hub_tools(hub, SpaceManager(hub, store=svc.store, session=SESSION))
    registry.register(route_chat_tool(svc.router))
    return McpServices(svc.router, registry, allow_mutations)


def route_chat_tool(router: Router, session: str = SESSION) -> Tool:
    """`route_chat`: one chat request through the router, answered with who answered and what it cost."""
    return chat_tool(partial(router.chat, session=session))


def chat_tool(send: Callable[..., ChatResult]) -> Tool:
    """`route_chat` over `send(messages, model=, provider=, max_tokens=)`, which returns a `ChatResult`
    (the console's /mcp sends as its caller: keys, budget, identity)."""

    def route_chat(prompt: str, system: str | None = None, model: str | None = None, provider: str | None = None,
                   max_tokens: int | None = None) -> JSON:
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
        result = send(messages, model=model, provider=provider, max_tokens=max_tokens)
        return {"text": result.text, "provider": result.provider, "model": result.model,
                "key_source": result.key_source, "demo": result.demo, "fallback_chain": result.fallback_chain,
                "tokens_in": result.usage.tokens_in, "tokens_out": result.usage.tokens_out,
                "cost_usd": result.usage.cost_usd, "latency_ms": result.latency_ms, "request_id": result.request_id}

    text = {"type": "string", "maxLength": 20_000}
    return Tool("route_chat", "Send a prompt to a language model through Spaces OS's router: it picks the provider, "
                "falls back to the next one on errors, and records usage. Returns the answer, the provider and "
                "model that gave it, the failed attempts before it, tokens and cost.",
                {"type": "object", "additionalProperties": False, "required": ["prompt"],
                 "properties": {"prompt": {**text, "minLength": 1, "description": "The user message."},
                                "system": {**text, "description": "An optional system message."},
                                "model": {"type": "string", "maxLength": 200, "description": "A model id, e.g. "
                                          "openai/gpt-4o-mini; default: the provider's first model."},
                                "provider": {"type": "string", "maxLength": 100,
                                             "description": "Force one configured provider by name."},
                                "max_tokens": {"type": "integer", "minimum": 1, "maximum": 32_000,
                                               "description": "The most tokens the answer may have."}}},
                route_chat, spends_credit=True)


# --------------------------------------------------------------------------- the MCP server


def run_tool(services: McpServices, name: str, arguments: Mapping[str, Any] | None) -> JSON:
    """`{"ok": true, "result": ...}` or `{"ok": false, "error": {kind, message}}`; never raises."""
    registry = services.registry
    why = services.refusal(registry.get(name)) if name in registry else None
    if why is not None:
        return {"ok": False, "error": {"kind": "refused", "message": why}}
    try:
        return registry.call_safely(name, arguments)
    except SpacesOSError as exc:          # e.g. every provider failed for route_chat: its message is plain words
        return {"ok": False, "error": {"kind": "failed", "message": str(exc)}}
    except Exception as exc:              # a bug must reach the client as an error, not as a dropped connection
        log.exception("tool %s failed", name)
        return {"ok": False, "error": {"kind": "internal", "message": f"{name} failed ({type(exc).__name__})."}}


def mcp_tool(tool: Tool, note: str = "") -> mcp_types.Tool:
    description = tool.description + note
    return mcp_types.Tool(name=tool.name, title=tool.title, description=description, input_schema=tool.parameters,
                          annotations=mcp_types.ToolAnnotations(title=tool.title, read_only_hint=tool.read_only,
                                                                destructive_hint=tool.mutating))


def build_server(services: McpServices | Callable[[Any], McpServices]) -> Server:
    """The low-level SDK server over our registry (our schemas are already JSON Schema). `services` may be
    a function of the request context instead, called off the event loop for every request: the console's
    /mcp builds each caller's own tools."""
    resolve = services if callable(services) else lambda ctx: services

    def listed(ctx: Any) -> list[mcp_types.Tool]:
        mine = resolve(ctx)
        return [mcp_tool(t, mine.note(t)) for t in mine.registry.list()]

    async def list_tools(ctx: Any, params: Any) -> mcp_types.ListToolsResult:
        return mcp_types.ListToolsResult(tools=await anyio.to_thread.run_sync(listed, ctx))

    async def call_tool(ctx: Any, params: mcp_types.CallToolRequestParams) -> mcp_types.CallToolResult:
        # Hub and provider calls block: run them off the event loop so other requests keep flowing.
        outcome = await anyio.to_thread.run_sync(
            lambda: run_tool(resolve(ctx), params.name, params.arguments or {}))
        text = json.dumps(outcome, ensure_ascii=False, default=str)
        return mcp_types.CallToolResult(content=[mcp_types.TextContent(text=text)], structured_content=outcome,
                                        is_error=not outcome["ok"])

    return Server(SERVER_NAME, version="0.1.0", instructions=INSTRUCTIONS, on_list_tools=list_tools,
                  on_call_tool=call_tool)


def http_app(services: McpServices, token: str):
    """The Streamable HTTP app (stateless, JSON answers) at /mcp on 127.0.0.1, behind the bearer `token`."""
    app = build_server(services).streamable_http_app(host="127.0.0.1", stateless_http=True, json_response=True)
    return require_bearer(app, token)


def require_bearer(app: Any, token: str) -> Any:
    """ASGI wrapper: an HTTP request without `Authorization: Bearer <token>` gets 401 and reaches nothing."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"the MCP token must have at least {MIN_TOKEN_CHARS} characters", path=TOKEN_ENV)
    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                refusal = JSONResponse({"error": "invalid_token", "error_description": "This MCP server needs "
                                        "`Authorization: Bearer <token>`; its owner has the token."},
                                       status_code=401, headers={"WWW-Authenticate": 'Bearer realm="spaces-os"'})
                await refusal(scope, receive, send)
                return
        await app(scope, receive, send)

    return guarded


def http_token(env: Mapping[str, str]) -> tuple[str, bool]:
    """The bearer token for HTTP mode: `$SPACES_OS_MCP_TOKEN`, else a fresh random one (second value True)."""
    given = (env.get(TOKEN_ENV) or "").strip()
    return (given, False) if given else (secrets.token_urlsafe(32), True)


async def serve_stdio(services: McpServices) -> None:
    server = build_server(services)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def port_number(text: str) -> int:
    """argparse type for --http: a TCP port, 1-65535 (0: any free port, which is then printed)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; use one from 1 to 65535") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number; use one from 1 to 65535")
    return port


def listen(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:`port`, so a port in use is known before anything is announced."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.app.mcp_server", description=__doc__.split("\n")[0])
    parser.add_argument("--http", type=port_number, metavar="PORT",
                        help="serve Streamable HTTP at http://127.0.0.1:PORT/mcp instead of stdio")
    parser.add_argument("--allow-mutations", action="store_true",
                        help="let clients restart, pause and delete Spaces (off by default)")
    args = parser.parse_args(argv)
    env = dict(os.environ) if env is None else dict(env)
    token, generated = http_token(env)
    try:
        paths = server_paths(env)
        print(f"Spaces OS MCP server: {paths.describe()}", file=sys.stderr)
        services = build_mcp_services(env, allow_mutations=args.allow_mutations)
        app = http_app(services, token) if args.http is not None else None
    except ConfigError as exc:
        print(f"Spaces OS MCP server: the config is not valid: {exc}", file=sys.stderr)
        return 2
    mutations = "allowed" if args.allow_mutations else "refused (start with --allow-mutations to allow)"
    try:
        if args.http is None:
            print(f"Spaces OS MCP server on stdio; Space changes {mutations}.", file=sys.stderr)
            anyio.run(serve_stdio, services)
            return 0
        try:
            sock = listen(args.http)
        except OSError as exc:
            print(f"Spaces OS MCP server: cannot listen on 127.0.0.1:{args.http}: {exc.strerror or exc}. "
                  "Is another server using this port? Choose another with --http PORT.", file=sys.stderr)
            return 2
        import uvicorn  # only the HTTP mode needs it
        port = sock.getsockname()[1]
        print(f"Spaces OS MCP server at http://127.0.0.1:{port}/mcp; Space changes {mutations}.", file=sys.stderr)
        if generated:
            print(f"Clients must send `Authorization: Bearer {token}` (a fresh token; set {TOKEN_ENV} to "
                  "choose one).", file=sys.stderr)
        else:
            print(f"Clients must send `Authorization: Bearer <${TOKEN_ENV}>`.", file=sys.stderr)
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        services.router.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
