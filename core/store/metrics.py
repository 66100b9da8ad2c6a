"""Aggregations for the Home and Metrics pages, computed in SQL (never by loading `usage` into pandas)."""

from __future__ import annotations

import time
from typing import Any


class MetricsQueries:
    """Mixed into `Store`; every method returns small, already-aggregated rows."""

    def summary(self, since: float | None = None) -> dict[str, Any]:
        """Requests, cost, median latency and error rate since `since` (default: the last 24 h)."""
        since = time.time() - 86400 if since is None else since
        conn = self.db().conn
        row = conn.execute(
            "SELECT count(DISTINCT request_id), coalesce(sum(cost_usd), 0), count(*), "
            "sum(outcome NOT IN ('ok', 'cooldown_skip')) "
            "FROM usage INDEXED BY idx_usage_ts WHERE ts >= ?", (since,)).fetchone()
        requests, cost, attempts, failures = row[0], row[1], row[2], row[3] or 0
        ok = conn.execute("SELECT count(*) FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND outcome = 'ok'",
                          (since,)).fetchone()[0]
        median = None
        if ok:
            median = conn.execute(
                "SELECT latency_ms FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND outcome = 'ok' "
                "ORDER BY latency_ms LIMIT 1 OFFSET ?", (since, ok // 2)).fetchone()[0]
        return {"requests": requests, "cost_usd": cost, "attempts": attempts,
                "error_rate": (failures / attempts) if attempts else 0.0, "median_latency_ms": median}
