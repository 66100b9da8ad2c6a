"""The console as an HTTP API, served by the same process and port as the pages (`streamlit run Home.py`).

    app = st.App("Home.py", middleware=gateway_middleware(), lifespan=gateway_lifespan)   # Home.py: one port
    curl http://127.0.0.1:8501/v1/chat/completions -d '{"model": "auto", "messages": [...]}'
    npx @modelcontextprotocol/inspector --cli http://127.0.0.1:8501/mcp --transport http --method tools/list

Every route takes its services from the same composition root as the pages
(`ServiceRoot.shared().current()`), so API callers route exactly as visitors do: BYOK, fallback,
cooldowns, budgets and usage rows. One small module per concern:

    openai_routes.py   POST /v1/chat/completions, GET /v1/models (OpenAI wire format)
    rest.py            /api/providers, /api/spaces, /api/workflows, /api/tasks
    auth.py            who is calling: demo, a console access token, or a provider key as the bearer
    errors.py          every failure in OpenAI's error shape with the matching status
    metrics.py         GET /metrics (prometheus-client) and GET /healthz
    openapi.py         GET /api/openapi.json
    fast_path.py       the API's paths served ahead of Streamlit's middleware (cookie, gzip, path checks)
    mcp_route.py       /mcp: the console's MCP server over Streamable HTTP, same callers and rules, each
                       caller's own tools; its SDK session manager runs in `gateway_lifespan`
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.routing import BaseRoute


def gateway_routes() -> list[BaseRoute]:
    """Every API route, for `st.App(routes=...)`. Imports stay inside so the pages never load them."""
    from core.app.gateway.mcp_route import mcp_routes
    from core.app.gateway.metrics import metrics_routes
    from core.app.gateway.openai_routes import openai_routes
    from core.app.gateway.openapi import openapi_routes
    from core.app.gateway.rest import rest_routes
    return [*metrics_routes(), *openai_routes(), *rest_routes(), *openapi_routes(), *mcp_routes()]


def gateway_middleware() -> list[Any]:
    """For `st.App(middleware=...)`: the API's routes, served before Streamlit's own middleware (fast_path.py)."""
    from core.app.gateway.fast_path import api_first
    return [api_first(gateway_routes())]


@asynccontextmanager
async def gateway_lifespan(app: Any) -> AsyncIterator[None]:
    """For `st.App(lifespan=...)`: runs /mcp's session manager (the MCP SDK's) while the server runs, and turns
    Nagle off on the listening socket (nodelay.py)."""
    from core.app.gateway.mcp_route import ENDPOINT
    from core.app.gateway.nodelay import nodelay_listeners
    nodelay_listeners()         # the socket listens by now: answers leave at once, not after a delayed ACK
    async with ENDPOINT.lifespan():
        yield None


__all__ = ["gateway_lifespan", "gateway_middleware", "gateway_routes"]
