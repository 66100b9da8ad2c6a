"""What every route shares: the services from the composition root, the caller, JSON in and errors out."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.app.gateway import metrics
from core.app.gateway.auth import Caller, authenticate
from core.app.gateway.errors import ApiError, api_error

if TYPE_CHECKING:
    from core.app.services import Services

Handler = Callable[[Request, "Services", Caller], Awaitable[Response]]


def services() -> Services:
    """The same composition root as the pages: one set of services per process."""
    from core.app.services import ServiceRoot
    return ServiceRoot.shared().current()


def _identify(request: Request) -> tuple[Services, Caller]:
    """The services and the caller, in one trip to a worker thread (each trip is two thread switches)."""
    svc = services()
    return svc, authenticate(request, svc)


def endpoint(name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A route: authenticate, run `handler`, answer any failure in OpenAI's error shape, count it."""

    async def route(request: Request) -> Response:
        started = time.perf_counter()
        try:
            svc, caller = await run_in_threadpool(_identify, request)
            response = await handler(request, svc, caller)
        except Exception as exc:     # every failure reaches the client as an error body, never a dropped socket
            response = api_error(exc).response()
        metrics.observe_request(name, response.status_code, time.perf_counter() - started)
        return response

    return route


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object.", code="invalid_json")
    return body


def ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=headers)
