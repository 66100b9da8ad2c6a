"""What Home shows: today's numbers and the recent tasks as table rows."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from core.store import Store


def today(store: Store, now: float | None = None) -> dict[str, Any]:
    """Requests, cost, median latency and error rate over the last 24 hours."""
    return store.summary((now or time.time()) - 86400)


def error_rate_text(summary: dict[str, Any]) -> str:
    """The error rate as Home and Metrics show it: "—" when nothing was attempted (0 % of nothing is no news)."""
    return f"{summary['error_rate']:.1%}" if summary.get("attempts") else "—"


def recent_task_rows(tasks: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"task": t.id, "status": t.status, "label": t.label, "confidence": round(t.confidence or 0, 2),
             "provider": t.provider, "model": t.model, "prompt": (t.prompt or "")[:80],
             "updated": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t.updated_at))} for t in tasks]
