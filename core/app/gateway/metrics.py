"""GET /metrics in Prometheus text (prometheus-client) and GET /healthz.

Counted here, for API traffic: requests by route and status, request latency, and for every provider
attempt an API request made: attempts by outcome, attempt latency, tokens and cost. The console's own
traffic is on the Metrics page (from the usage rows).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

REGISTRY = CollectorRegistry(auto_describe=True)     # our own: a re-import never registers twice globally
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter("spaces_os_api_requests", "API requests by route and HTTP status", ["route", "status"],
                   registry=REGISTRY)
REQUEST_LATENCY = Histogram("spaces_os_api_request_seconds", "API request latency (to the first byte when "
                            "streaming)", ["route"], buckets=_BUCKETS, registry=REGISTRY)
ATTEMPTS = Counter("spaces_os_provider_attempts", "Provider attempts by outcome", ["provider", "outcome", "key_source"],
                   registry=REGISTRY)
ATTEMPT_LATENCY = Histogram("spaces_os_provider_attempt_seconds", "Provider attempt latency", ["provider"],
                            buckets=_BUCKETS, registry=REGISTRY)
TTFT = Histogram("spaces_os_provider_ttft_seconds", "Time to the first token of a streamed attempt", ["provider"],
                 buckets=_BUCKETS, registry=REGISTRY)
TOKENS = Counter("spaces_os_tokens", "Tokens by provider and direction", ["provider", "direction"], registry=REGISTRY)
COST = Counter("spaces_os_cost_usd", "Cost in USD by provider", ["provider"], registry=REGISTRY)


def observe_request(route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, str(status)).inc()
    REQUEST_LATENCY.labels(route).observe(seconds)


def observe_attempts(attempts) -> None:
    """The router's attempts of one API request."""
    for a in attempts:
        ATTEMPTS.labels(a.provider, a.outcome, a.key_source or "none").inc()
        if a.latency_ms is not None:
            ATTEMPT_LATENCY.labels(a.provider).observe(a.latency_ms / 1000)
        if a.ttft_ms is not None:
            TTFT.labels(a.provider).observe(a.ttft_ms / 1000)
        if a.tokens_in:
            TOKENS.labels(a.provider, "in").inc(a.tokens_in)
        if a.tokens_out:
            TOKENS.labels(a.provider, "out").inc(a.tokens_out)
        if a.cost_usd:
            COST.labels(a.provider).inc(a.cost_usd)


async def prometheus(request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def metrics_routes() -> list[Route]:
    return [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", prometheus, methods=["GET"])]
