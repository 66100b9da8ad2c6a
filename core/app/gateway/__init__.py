"""The console as an HTTP API, served by the same process and port as the pages (`streamlit run Home.py`).

    app = st.App("Home.py", routes=gateway_routes(), lifespan=gateway_lifespan)   # Home.py; Streamlit serves both
    curl http://127.0.0.1:8501/v1/chat/completions -d '{"model": "auto", "messages": [...]}'

Every route takes its services from the same composition root as the pages
(`ServiceRoot.shared().current()`), so API callers route exactly as visitors do: BYOK, fallback,
cooldowns, budgets and usage rows. One small module per concern:

    openai_routes.py   POST /v1/chat/completions, GET /v1/models (OpenAI wire format)
    rest.py            /api/providers, /api/spaces, /api/workflows, /api/tasks
    auth.py            who is calling: demo, a console access token, or a provider key as the bearer
    errors.py          every failure in OpenAI's error shape with the matching status
    metrics.py         GET /metrics (prometheus-client) and GET /healthz
    openapi.py         GET /api/openapi.json
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.routing import BaseRoute


def gateway_routes() -> list[BaseRoute]:
    """Every API route, for `st.App(routes=...)`. Imports stay inside so the pages never load them."""
    from core.app.gateway.metrics import metrics_routes
    from core.app.gateway.openai_routes import openai_routes
    from core.app.gateway.openapi import openapi_routes
    from core.app.gateway.rest import rest_routes
    return [*metrics_routes(), *openai_routes(), *rest_routes(), *openapi_routes()]


@asynccontextmanager
async def gateway_lifespan(app: Any) -> AsyncIterator[None]:
    """For `st.App(lifespan=...)`: runs once the server's socket listens, before the first request."""
    from core.app.gateway.nodelay import nodelay_listeners
    nodelay_listeners()         # the socket listens by now: answers leave at once, not after a delayed ACK
    yield None


__all__ = ["gateway_lifespan", "gateway_routes"]
