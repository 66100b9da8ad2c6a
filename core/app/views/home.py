"""What Home shows: the database line, today's numbers and the recent tasks as table rows."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from core.store import DatabaseProbe, Store


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


def database_line(probe: DatabaseProbe) -> tuple[bool, str]:
    """(answers, the line): which database, its schema version and how fast it answered, or why it did not."""
    where = f"{probe.backend} · `{probe.where}`"
    if not probe.answers:
        return False, f"**Database not answering:** {where}. {probe.problem}"
    version = f"schema v{probe.schema_version}"
    if probe.schema_version != probe.known_version:
        version += (f" (this console knows v{probe.known_version}: another replica runs newer code; update this one)"
                    if (probe.schema_version or 0) > probe.known_version else f" (expected v{probe.known_version})")
    return True, f"🗄️ Database: {where} · {version} · answered in {probe.latency_ms:.1f} ms"
