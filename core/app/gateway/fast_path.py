"""The API's paths served ahead of Streamlit's own middleware.

    st.App("Home.py", middleware=[api_first(gateway_routes())], lifespan=gateway_lifespan)

`st.App` runs user middleware before its own (a path-security check for its static files, a signed
session cookie, gzip, Starlette's exception layer) and then one router for its routes and ours. None of
that is for the API: its paths are exact routes with no files behind them, its callers authenticate with
a bearer and no cookie, streamed answers must not be compressed, and every failure is already answered
in OpenAI's error shape. Served here, a request skips those six layers on the way in and their send
wrappers on the way out: about a quarter of the event loop's time per API request (py-spy, sequential
/v1/chat/completions). Every other path goes on to Streamlit unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send


def api_first(routes: Sequence[BaseRoute]) -> Middleware:
    """The middleware entry for `st.App(middleware=[...])` that serves `routes` itself."""
    return Middleware(ApiFirst, routes=routes)


class ApiFirst:
    """Pure ASGI: an HTTP request under one of the routes' first path segments (/v1, /api, /mcp, /metrics,
    /healthz) goes to the API's own router, which answers a path it does not know with a JSON 404;
    everything else (pages, websocket, static files) to Streamlit."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]):
        self.app = app
        self.api = Router(routes=list(routes), default=_not_found)
        self.roots = tuple(sorted({_root(r) for r in routes if isinstance(r, Route)}))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.serves(scope["path"]):
            await self.api(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def serves(self, path: str) -> bool:
        return any(path == root or path.startswith(root + "/") for root in self.roots)


def _root(route: Route) -> str:
    """'/api/spaces/{owner}/{name}' -> '/api'."""
    return "/" + route.path.strip("/").split("/")[0]


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    path = Request(scope).url.path
    response = JSONResponse({"error": {"message": f"No API route {path[:200]}. The routes are listed at "
                                                  "/api/openapi.json.", "type": "not_found_error",
                                       "code": "not_found", "param": None}}, status_code=404)
    await response(scope, receive, send)
