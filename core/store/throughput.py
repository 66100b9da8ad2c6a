"""Recent answered attempts of some models, for the duration estimate of a background task.

    from core.store.throughput import recent_answers
    rows = recent_answers(store, [("demo", "demo/deep-1")], since=time.time() - 3600)
    rows[0]   # {'task_id': 't1', 'label': 'COMPLEX', 'latency_ms': 4011.0, 'ttft_ms': 180.0, 'tokens_out': 267}

A function over a `Store` rather than a method mixed into it: the estimate is the only reader, and it
needs one narrow query. It walks `idx_usage_outcome_label_provider_model_ts` (outcome, label, provider,
model, ts) for `outcome = 'ok'`, so it reads only answered attempts, newest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def recent_answers(store: Any, models: Iterable[tuple[str, str | None]], *, since: float,
                   limit: int = 200) -> list[dict[str, Any]]:
    """Answered (`ok`) attempts of the (provider, model) pairs since `since`, newest first, at most `limit`;
    a model of None means any model of that provider. Only attempts with a latency and a token count, so
    tokens per second can be computed from each."""
    pairs = [(p, m) for p, m in models if p]
    if not pairs:
        return []
    match = " OR ".join("(provider = ? AND model = ?)" if m else "(provider = ?)" for _, m in pairs)
    params: list[Any] = [v for pair in pairs for v in pair if v]
    sql = ("SELECT task_id, label, provider, model, latency_ms, ttft_ms, tokens_out, ts FROM usage "
           f"WHERE outcome = 'ok' AND ({match}) AND ts >= ? AND latency_ms > 0 AND tokens_out > 0 "
           "ORDER BY ts DESC LIMIT ?")
    return store.rows(sql, (*params, since, int(limit)))
