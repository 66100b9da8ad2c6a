"""What the Providers page needs from the router: key checks, health checks, the model catalogue."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from core.errors import ErrorKind, SpacesOSError
from core.llm.prices import price_for
from core.llm.router import Router


def breaker_scope_note(dialect: str) -> str | None:
    """The Providers page's caveat when the console may run as several replicas (a PostgreSQL store): the
    cooldowns and circuit breakers it shows are this process's own (core/llm/breaker.py)."""
    if dialect != "postgresql":
        return None
    return "Cooldowns and circuit breakers are per console process; with several replicas each keeps its own."


def key_problem(router: Router, provider: str, key: str) -> str | None:
    """A plain-words warning when a key cannot work with this provider (e.g. not an `hf_` token)."""
    p = router.providers.get(provider)
    return p.accepts_key(key) if p else None


def check_health(router: Router, provider: str, keys: Mapping[str, str], session: str | None,
                 timeout: float = 10.0) -> dict[str, Any]:
    """One 1-token chat to this provider alone, with the session key, else the shared key. It goes through
    the router like any request: the hosted budget applies and the attempt is a usage row."""
    others = {name: {"enabled": False} for name in router.providers if name != provider}
    started = time.perf_counter()
    try:
        result = router.chat([{"role": "user", "content": "Reply with OK."}], provider=provider, keys=keys,
                             session=session, overrides=others, max_tokens=1, label="HEALTH", deadline=timeout)
    except SpacesOSError as e:
        attempts = getattr(e, "attempts", None) or []
        last = attempts[-1] if attempts else None
        return {"ok": False, "latency_ms": (time.perf_counter() - started) * 1000,
                "kind": last.outcome if last else ErrorKind.AUTH.value, "message": str(e).splitlines()[0],
                "key_source": last.key_source if last else "none"}
    return {"ok": True, "latency_ms": result.latency_ms or 0.0, "kind": None, "message": "",
            "key_source": {"byok": "your", "shared": "shared"}.get(result.key_source, result.key_source)}


def model_catalogue(router: Router) -> list[dict[str, Any]]:
    """Configured models per provider with their list prices (offline: no network call)."""
    rows = []
    for p in router.providers.values():
        for model in p.config.models:
            price = price_for(model)
            rows.append({"provider": p.name, "model": model,
                         "input $/1M": price[0] if price else None, "output $/1M": price[1] if price else None})
    return rows
