"""What the Providers page needs from the router: key checks, health checks, the model catalogue."""

from __future__ import annotations

from typing import Any

from core.errors import ErrorKind
from core.llm.prices import price_for
from core.llm.router import Router


def key_problem(router: Router, provider: str, key: str) -> str | None:
    """A plain-words warning when a key cannot work with this provider (e.g. not an `hf_` token)."""
    p = router.providers.get(provider)
    return p.accepts_key(key) if p else None


def check_health(router: Router, provider: str, session_key: str | None, timeout: float = 10.0) -> dict[str, Any]:
    """Call the provider once with the session key, else the shared key; latency and error kind."""
    p = router.providers[provider]
    key = session_key or p.config.api_key
    if not key and not p.config.keyless:
        return {"ok": False, "latency_ms": 0.0, "kind": ErrorKind.AUTH.value, "key_source": "none",
                "message": "no key: add yours above"}
    health = p.health(key, timeout)
    return {"ok": health.ok, "latency_ms": health.latency_ms, "kind": health.kind, "message": health.message,
            "key_source": "your" if session_key else "shared"}


def model_catalogue(router: Router) -> list[dict[str, Any]]:
    """Configured models per provider with their list prices (offline: no network call)."""
    rows = []
    for p in router.providers.values():
        for model in p.config.models:
            price = price_for(model)
            rows.append({"provider": p.name, "model": model,
                         "input $/1M": price[0] if price else None, "output $/1M": price[1] if price else None})
    return rows
