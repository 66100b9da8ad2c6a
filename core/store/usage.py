"""The `usage` table: one row per provider attempt, spelled once as `UsageRow`.

    store.record_attempts([UsageRow(request_id="r1", ts=time.time(), provider="openrouter", attempt=1,
                                    outcome="ok", latency_ms=412.0, streamed=True)])
    store.flush()
    store.usage_rows(request_id="r1")[0]["latency_ms"]          # -> 412.0

`UsageRow`'s fields are the table's columns (less the `id` the file assigns), in insert order: the
column list, the INSERT statement and the insert tuple all come from it. The router builds one per
attempt; rows are queued for the background writer (core/store/writer.py), so the request thread only
appends to a deque. Plain mappings with the same keys are accepted too (benchmarks, tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any


@dataclass(slots=True, kw_only=True)
class UsageRow:
    """One provider attempt. Never holds a key: `key_source` says whose key it was, `error` is redacted."""

    request_id: str
    ts: float                           # unix seconds
    session: str | None = None          # hash, never the raw id
    task_id: str | None = None
    provider: str
    model: str | None = None
    key_source: str | None = None       # byok | shared | demo | none
    attempt: int                        # 1-based within the request
    outcome: str                        # ok | an ErrorKind value | cooldown_skip | started (in flight)
    http_status: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    cost_source: str | None = None      # provider | price_table | unknown
    label: str | None = None            # QUICK | COMPLEX | URGENT when the manager routed it
    streamed: bool = False
    error: str | None = None            # redacted

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> UsageRow:
        """A row from a dict with these keys; other keys are ignored, a missing required one is a TypeError."""
        values = {name: row[name] for name in USAGE_COLUMNS if name in row}
        values["streamed"] = bool(values.get("streamed"))
        return cls(**values)


USAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(UsageRow))
INSERT_USAGE = (f"INSERT INTO usage ({', '.join(USAGE_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in USAGE_COLUMNS)})")
# The end of a streamed attempt overwrites its `started` row (found through idx_usage_request_id).
COMPLETE_USAGE = (f"UPDATE usage SET {', '.join(f'{c} = ?' for c in USAGE_COLUMNS)} "
                  f"WHERE request_id = ? AND attempt = ? AND streamed = 1")
STARTED = "started"
_OUTCOME_AT, _STREAMED_AT = USAGE_COLUMNS.index("outcome"), USAGE_COLUMNS.index("streamed")
_REQUEST_AT, _ATTEMPT_AT = USAGE_COLUMNS.index("request_id"), USAGE_COLUMNS.index("attempt")
_values = attrgetter(*USAGE_COLUMNS)       # one C call: a UsageRow's values as a tuple in column order


def usage_values(row: UsageRow | Mapping[str, Any]) -> tuple:
    """The INSERT_USAGE parameters for one row (runs on the writer thread, not the request's)."""
    if not isinstance(row, UsageRow):
        row = UsageRow.from_mapping(row)
    return _values(row)


def completes_a_start(values: tuple) -> bool:
    """True for the end row of a streamed attempt, which replaces the row written when it started."""
    return bool(values[_STREAMED_AT]) and values[_OUTCOME_AT] != STARTED


class UsageQueries:
    """Mixed into `core.store.Store`; uses its `execute()`, `rows()`, `transaction()` and `_ensure_writer()`."""

    def record_attempts(self, rows: Iterable[UsageRow | Mapping[str, Any]], *, wait: bool = False) -> None:
        """Queue usage rows (one per provider attempt) for the background writer, which also turns
        them into tuples (off the request thread). Rows are not copied: don't change them later."""
        put = self._ensure_writer().put
        for row in rows:
            put(row)
        if wait:
            self.flush()

    def _insert_usage(self, batch: list[tuple], completions: list[tuple] = ()) -> None:
        """Insert `batch`; then each of `completions` overwrites its attempt's `started` row (inserted
        before it, in this batch or an earlier one), or is inserted when that row is missing (lost, or
        the attempt was a cooldown skip that never started)."""
        with self.transaction() as tx:
            if batch:
                tx.executemany(INSERT_USAGE, batch)
            if not completions:
                return
            keyed = [(*values, values[_REQUEST_AT], values[_ATTEMPT_AT]) for values in completions]
            if self.dialect == "postgresql":    # one pipelined round trip, not one per row (see rowcounts)
                matched = tx.rowcounts(COMPLETE_USAGE, keyed)
            else:                               # in-process: a loop costs nothing to save
                matched = [tx.execute(COMPLETE_USAGE, params).rowcount for params in keyed]
            missing = [values for values, n in zip(completions, matched, strict=True) if n == 0]
            if missing:     # no two completions share an attempt, so inserting them last changes nothing
                tx.executemany(INSERT_USAGE, missing)

    def close_stale_attempts(self, started_before: float) -> int:
        """Attempts still `started` that began before `started_before` belong to a process that died
        mid-stream: they become `stream_error` (an interrupted attempt). Returns how many."""
        with self.transaction() as tx:
            return tx.execute("UPDATE usage SET outcome = 'stream_error', error = 'the process running this "
                              "attempt stopped before it ended' WHERE outcome = ? AND ts < ?",
                              (STARTED, started_before)).rowcount

    def bulk_insert_usage(self, rows: Iterable[UsageRow | Mapping[str, Any]], batch_size: int = 5000) -> None:
        """Synchronous bulk load (benchmarks, imports). Plain executemany: about 5x sqlite-utils' insert_all."""
        batch: list[tuple] = []
        for row in rows:
            batch.append(usage_values(row))
            if len(batch) >= batch_size:
                self._insert_usage(batch)
                batch = []
        if batch:
            self._insert_usage(batch)

    def usage_rows(self, *, request_id: str | None = None, task_id: str | None = None,
                   limit: int = 1000) -> list[dict[str, Any]]:
        """Rows in insert order (oldest first), optionally of one request or one task; at most `limit`."""
        where, params = [], []
        if request_id:
            where.append("request_id = ?")
            params.append(request_id)
        if task_id:
            where.append("task_id = ?")
            params.append(task_id)
        sql = "SELECT * FROM usage" + (f" WHERE {' AND '.join(where)}" if where else "")
        return self.rows(f"{sql} ORDER BY id LIMIT ?", (*params, int(limit)))

    def usage_count(self) -> int:
        return self.execute("SELECT count(*) FROM usage").fetchone()[0]

    def recent_provider_latency(self, since: float) -> dict[str, float]:
        """Median latency (ms) of successful attempts per provider since `since`; for URGENT routing."""
        out = {}
        conn = self
        for provider, n in conn.execute("SELECT provider, count(*) FROM usage INDEXED BY idx_usage_ts "
                                        "WHERE ts >= ? AND outcome = 'ok' GROUP BY provider", (since,)).fetchall():
            row = conn.execute("SELECT latency_ms FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND provider = ? "
                               "AND outcome = 'ok' ORDER BY latency_ms LIMIT 1 OFFSET ?",
                               (since, provider, n // 2)).fetchone()
            out[provider] = row[0]
        return out

    def shared_spend(self, session: str, *, minute_since: float, day_since: float) -> dict[str, Any]:
        """A visitor's use of the shared keys: requests in the last minute, tokens and USD in the last day."""
        conn = self
        minute = conn.execute("SELECT count(DISTINCT request_id) FROM usage WHERE session = ? AND ts >= ? "
                              "AND key_source = 'shared'", (session, minute_since)).fetchone()[0]
        tokens, usd = conn.execute("SELECT coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0), "
                                   "coalesce(sum(cost_usd), 0) FROM usage WHERE session = ? AND ts >= ? "
                                   "AND key_source = 'shared'", (session, day_since)).fetchone()
        return {"requests_last_minute": minute, "tokens_today": tokens, "usd_today": usd}
