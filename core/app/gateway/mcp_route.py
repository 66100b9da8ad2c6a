"""/mcp: the console's MCP server (core/app/mcp_server.py) over Streamable HTTP, on the console's own port.

    npx @modelcontextprotocol/inspector --cli http://127.0.0.1:8501/mcp --transport http --method tools/list
    claude mcp add --transport http spaces-os http://127.0.0.1:8501/mcp --header "Authorization: Bearer sos_…"

The callers are the HTTP API's (auth.py): none needed in demo mode, else a console access token, the operator
token or a provider key as the bearer; a refused one gets the API's 401 before the SDK sees the request. Each
caller gets its own tools, built per request from the shared composition root: the Hub with the HF token the
REST routes would pick (hosted: never the owner's), `route_chat` through the router as that caller (its keys,
providers, token budget, the hosted budgets and message limit), and its usage rows and Space actions recorded
under its identity. A tool runs only with its scope: Hub reads `spaces-read`, Space changes `spaces-write`,
`route_chat` `chat`; the tool list says which ones this caller may not run.

Stateless, JSON answers: every POST is authenticated on its own and carries its own caller, so there is no
session one caller could reuse under another's token. The SDK's session manager runs in the app's lifespan
(`McpRoute.lifespan`, which Home.py hands to `st.App(lifespan=...)`); before it runs, /mcp answers 503.

Host and Origin: the SDK's DNS-rebinding check (TransportSecuritySettings) is off. With it on, only the host
names listed are served, but the console is reached as 127.0.0.1, localhost, a LAN address, a Space's
`*.hf.space` name or any proxy's; and the check would guard nothing the bearer rule leaves open: a rebound page
sends no bearer (tokens are not cookies), and without one it gets only what demo mode gives anyone (the demo
model, anonymous Hub reads). The rest of the API on this port has no host check either. Cross-site pages
without rebinding are stopped by CORS: a JSON POST needs a preflight, which /mcp never grants.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from core.app.gateway import metrics
from core.app.gateway.auth import Caller, authenticate
from core.app.gateway.common import services
from core.app.gateway.errors import ApiError, api_error
from core.app.gateway.openai_routes import plan_request
from core.app.mcp_server import McpServices, build_server, chat_tool
from core.app.views.spaces import choose_hub_token, session_clients
from core.errors import SpacesOSError
from core.llm.router import ChatResult
from core.tools.registry import Tool, build_hub_tools

if TYPE_CHECKING:
    from core.app.services import Services

PATH = "/mcp"
CALLER = "spaces_os.caller"       # the ASGI scope key the authenticated (services, caller) ride on to the tools


def tool_scope(tool: Tool) -> str:
    """The scope a tool needs: a Space change `spaces-write`, a model request `chat`, a Hub read `spaces-read`."""
    return "spaces-write" if tool.mutating else "chat" if tool.spends_credit else "spaces-read"


def scope_refusal(caller: Caller, tool: Tool) -> str | None:
    """The API's own words when `caller` lacks the tool's scope; None when it has it."""
    try:
        caller.require(tool_scope(tool))
    except ApiError as exc:
        return exc.message
    return None


def caller_tools(svc: Services, caller: Caller) -> McpServices:
    """This caller's tools: its Hub clients (the token the REST routes would use; none is fine for Hub
    searches), `route_chat` sent as this caller, and its scopes deciding what may run."""
    token = choose_hub_token(svc.config.providers if svc.config else [], caller.keys, hosted=svc.hosted)
    hub, spaces = session_clients(caller.context(svc).cache, endpoint=svc.hub_endpoint, token=token, router_url=None,
                                  store=svc.store, session=caller.identity,
                                  max_upload_bytes=svc.policy.max_upload_bytes)
    registry = build_hub_tools(hub, spaces)
    registry.register(chat_tool(partial(send_chat, svc, caller)))
    return McpServices(svc.router, registry, refuse=partial(scope_refusal, caller))


def send_chat(svc: Services, caller: Caller, messages: list[dict[str, Any]], *, model: str | None = None,
              provider: str | None = None, max_tokens: int | None = None) -> ChatResult:
    """One `route_chat` request, routed exactly as POST /v1/chat/completions would route it for this caller."""
    caller.admit_chat(svc)
    if provider is not None and provider not in svc.router.providers:
        raise ApiError(400, f"No provider named `{provider}` is configured here "
                            f"(there are: {', '.join(svc.router.providers)}).", code="unknown_provider")
    wanted = f"{provider}/{model}" if provider and model else provider or model or "auto"
    routed = plan_request({"messages": messages, "model": wanted, "max_tokens": max_tokens}, svc, caller)
    try:
        result = svc.router.chat(routed.messages, **routed.kwargs)
    except SpacesOSError as exc:
        metrics.observe_attempts(getattr(exc, "attempts", []))
        raise
    metrics.observe_attempts(result.attempts)
    return result


def _request_tools(ctx: Any) -> McpServices:
    """The tools of the caller whose HTTP request carries this MCP message."""
    svc, caller = ctx.request.scope[CALLER]
    return caller_tools(svc, caller)


def refusal(error: ApiError) -> JSONResponse:
    """A request refused before the SDK: the API's status and headers (401 with WWW-Authenticate), and as the
    body a JSON-RPC error, so MCP clients show its message; the API's error type and code are in `data`."""
    return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {
        "code": INTERNAL_ERROR if error.status >= 500 else INVALID_REQUEST, "message": error.message,
        "data": {"status": error.status, "type": error.type, "code": error.code}}},
        status_code=error.status, headers=error.headers)


class McpRoute:
    """The ASGI app at /mcp: authenticate as the API does, then hand the request to the SDK."""

    def __init__(self) -> None:
        self.manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        """Runs the SDK's session manager for the app's lifetime (a manager runs once: a new one each time)."""
        manager = StreamableHTTPSessionManager(
            build_server(_request_tools), json_response=True, stateless=True,
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False))
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started, status = time.perf_counter(), [500]

        async def counted(message: dict) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            if self.manager is None:
                raise ApiError(503, "The MCP endpoint is not running: the app was started without its lifespan "
                                    "(Home.py passes it to st.App).", "server_error", "mcp_not_started")
            svc = await run_in_threadpool(services)
            scope[CALLER] = (svc, await run_in_threadpool(authenticate, Request(scope), svc))
        except Exception as exc:        # refused before the SDK: the API's status (401, 503) and words
            await refusal(api_error(exc))(scope, receive, counted)
        else:
            await self.manager.handle_request(scope, receive, counted)
        metrics.observe_request("mcp", status[0], time.perf_counter() - started)


ENDPOINT = McpRoute()      # one per process: gateway_routes() serves it, gateway_lifespan() runs its manager


def mcp_routes() -> list[Route]:
    return [Route(PATH, ENDPOINT)]


__all__ = ["CALLER", "ENDPOINT", "McpRoute", "caller_tools", "mcp_routes", "send_chat", "tool_scope"]
