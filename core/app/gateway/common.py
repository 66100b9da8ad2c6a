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
Prepare = Callable[[bytes, "Services", Caller], Any]


def services() -> Services:
    """The same composition root as the pages: one set of services per process."""
    from core.app.services import ServiceRoot
    return ServiceRoot.shared().current()


def _identify(request: Request, body: bytes, prepare: Prepare | None) -> tuple[Services, Caller, Any]:
    """The services, the caller and `prepare`'s work, in one trip to a worker thread (each trip is two thread
    switches, which a loaded machine stretches to a fraction of a millisecond)."""
    svc = services()
    caller = authenticate(request, svc)
    return svc, caller, None if prepare is None else prepare(body, svc, caller)


def endpoint(name: str, handler: Handler, prepare: Prepare | None = None) -> Callable[[Request], Awaitable[Response]]:
    """A route: authenticate, run `handler`, answer any failure in OpenAI's error shape, count it.

    With `prepare`, the body is read first and `prepare(body, svc, caller)` runs in the same worker-thread trip
    as authentication, after it; `handler` finds the result in `request.state.prepared`."""

    async def route(request: Request) -> Response:
        started = time.perf_counter()
        try:
            body = await request.body() if prepare is not None else b""
            svc, caller, request.state.prepared = await run_in_threadpool(_identify, request, body, prepare)
            response = await handler(request, svc, caller)
        except Exception as exc:     # every failure reaches the client as an error body, never a dropped socket
            response = api_error(exc).response()
        metrics.observe_request(name, response.status_code, time.perf_counter() - started)
        return response

    return route


async def json_body(request: Request) -> dict[str, Any]:
    return parse_json_body(await request.body())


def parse_json_body(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or ApiError(400) saying what is wrong with it."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, f"The body is not valid JSON: {exc}.", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The body must be a JSON object.", code="invalid_json")
    return body


def ok(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=headers)
