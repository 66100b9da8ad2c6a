"""Aggregations for the Home and Metrics pages, computed in SQL (never by loading `usage` into pandas).

Every method takes a window `since <= ts < until` in unix seconds (`until=None` means now) and returns a
small list of dicts. The Metrics page should call `metrics_report` once: it returns what the five
single-purpose methods return, sharing their scans (bench/README.md: about 1 s on 1M rows).

Why it is fast: no query sorts a large set of rows. Each reads a covering index from migration `_v2`
(core/store/schema.py) in the order it groups or ranks by, and the Python side only loops over buckets.

* **counts** by (outcome, label, provider, model): one walk of `idx_usage_outcome_label_provider_model_ts`
  with `ts` checked inside the index; they feed the sunburst, the error rates and the group sizes.
* **per-provider-and-model percentiles**: exact, by `ORDER BY latency_ms LIMIT 1 OFFSET k` on
  `(provider, model, outcome, latency_ms, ts)` (and the `ttft_ms` twin), which walks to the rank without sorting.
* **time buckets**: one range query per (provider, bucket) on `idx_usage_provider_ts_metrics` for exact sums,
  and one more that returns only the sampled ok rows (see `latency_over_time`).
* **fallbacks**: failed attempts from the partial index of non-ok rows, each joined to its request's answer
  through the partial index of ok rows with attempt > 1.

Walks cost about 0.1 s per 1M rows in the table whatever the window. A window of at most `NARROW_ROWS`
rows instead reads its own rows through (provider, ts) and sorts them (the **narrow** plan), so a short
window stays cheap on a long history. Both plans give identical results (tests/test_metrics_queries.py).

Percentiles use the nearest-rank definition: the q-quantile of n ascending values is the value at 0-based
position ceil(q·n) − 1.

Counting rules: a request is counted by its first attempt (`attempt = 1`; the router numbers attempts
from 1); an answered request has exactly one `ok` attempt; `cooldown_skip` rows are skipped providers,
not attempts, so they are reported apart and never count as errors or in an error rate's denominator.
`started` rows are streamed attempts still in flight (or cut off by a crash, until recovery marks them
`stream_error`): reported as `in_flight`, never as errors nor in a denominator.

    report = store.metrics_report(time.time() - 86400)
    report["latency_by_provider_model"][0]
    # {'provider': 'openrouter', 'model': 'openai/gpt-4o-mini', 'n': 812, 'p50_ms': 640.2, ...}
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# Indexes from migration _v2 (core/store/schema.py).
BY_PROVIDER_TS = "idx_usage_provider_ts_metrics"
BY_OUTCOME_LABEL = "idx_usage_outcome_label_provider_model_ts"
BY_LATENCY = "idx_usage_provider_model_outcome_latency_ms_ts"
BY_TTFT = "idx_usage_provider_model_outcome_ttft_ms_ts"
FAILED = "idx_usage_failed_ts"
FALLBACK_ANSWERS = "idx_usage_fallback_answers"

UNLABELLED = "unlabelled"


def rank_position(n: int, q: float) -> int:
    """0-based position of the q-quantile among n ascending values (nearest rank); e.g. (100, 0.95) -> 94."""
    return min(n - 1, max(0, math.ceil(q * n - 1e-9) - 1))


def nearest_rank(sorted_values: list[float], q: float) -> float | None:
    """The q-quantile of already sorted values, or None when there are none."""
    return sorted_values[rank_position(len(sorted_values), q)] if sorted_values else None


def _count_if(condition: str) -> str:
    """How many rows meet `condition`, in SQL both backends run (PostgreSQL has no sum over booleans)."""
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


OK_ROWS = _count_if("outcome = 'ok'")
FIRST_ATTEMPTS = _count_if("attempt = 1")
SKIP_ROWS = _count_if("outcome = 'cooldown_skip'")
STARTED_ROWS = _count_if("outcome = 'started'")
NOT_ATTEMPTS = _count_if("outcome IN ('cooldown_skip', 'started')")


def _disc(q: float) -> float:
    """The fraction to give PostgreSQL's `percentile_disc` (row ceil(f·n)) so it picks `rank_position`'s row,
    whose ceil forgives float noise (0.95 · 100 must be row 95, not 96)."""
    return max(0.0, q - 1e-12)


def bucket_edges(since: float, until: float, buckets: int) -> list[float]:
    """buckets + 1 edges from since to until; bucket i is edges[i] <= ts < edges[i + 1]."""
    buckets = max(1, int(buckets))
    width = (until - since) / buckets
    return [since + i * width for i in range(buckets)] + [until]


@dataclass(frozen=True)
class Window:
    since: float
    until: float
    narrow: bool                  # few enough rows to sort them (see the module docstring)
    providers: tuple[str, ...]    # every provider name in the table (the window may hold fewer)

    @property
    def params(self) -> tuple[float, float]:
        return (self.since, self.until)

    def provider_list(self) -> str:
        """`provider IN (…)` placeholders, so SQLite does one range scan per provider on (provider, ts)."""
        return ", ".join("?" for _ in self.providers)


@dataclass
class _Cell:
    """One provider in one time bucket: exact sums, plus the sampled ok latencies and TTFTs."""

    rows: int = 0
    ok: int = 0
    skips: int = 0                # rows that are no finished attempt: cooldown skips and in-flight starts
    requests: int = 0             # rows with attempt = 1
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    stride: int = 1
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)


class MetricsQueries:
    """Mixed into `Store`; every method returns small, already-aggregated rows."""

    NARROW_ROWS = 100_000     # windows up to this many rows are sorted; larger ones walk indexes
    BUCKET_SAMPLE = 400       # over-time percentiles: exact up to this many ok attempts per bucket, then sampled
    SUMMARY_SAMPLE = 50_000   # beyond this many ok attempts, summary's median comes from a 1-in-k sample

    # ------------------------------------------------------------------ Home

    def summary(self, since: float | None = None, until: float | None = None) -> dict[str, Any]:
        """Requests, cost, attempts, errors, error rate and median latency in the window (default: last 24 h).

        `attempts` excludes cooldown skips; `error_rate` is errors / attempts; the median is over ok attempts,
        exact up to `SUMMARY_SAMPLE` of them and otherwise from an evenly spread sample (`median_exact`).
        One scan of the window's index entries, so it costs about 0.1 s per 150k rows in the window.
        """
        w = self._window(time.time() - 86400 if since is None else since, until)
        out = {"requests": 0, "cost_usd": 0.0, "attempts": 0, "errors": 0, "cooldown_skips": 0, "in_flight": 0,
               "error_rate": 0.0, "median_latency_ms": None, "median_exact": True}
        if not w.providers:
            return out
        conn = self
        in_window = (f"FROM usage INDEXED BY {BY_PROVIDER_TS} "
                     f"WHERE provider IN ({w.provider_list()}) AND ts >= ? AND ts < ?")
        rows, requests, ok, skips, in_flight, cost, latency_n = conn.execute(
            f"SELECT count(*), {FIRST_ATTEMPTS}, {OK_ROWS}, "
            f"{SKIP_ROWS}, {STARTED_ROWS}, sum(cost_usd), "
            f"count(CASE WHEN outcome = 'ok' THEN latency_ms END) "
            f"{in_window}", (*w.providers, *w.params)).fetchone()
        attempts = rows - (skips or 0) - (in_flight or 0)
        errors = attempts - (ok or 0)
        out.update(requests=requests or 0, cost_usd=cost or 0.0, attempts=attempts, errors=errors,
                   cooldown_skips=skips or 0, in_flight=in_flight or 0,
                   error_rate=errors / attempts if attempts else 0.0)
        if latency_n and self.dialect == "postgresql":      # the server ranks every value itself
            out["median_latency_ms"] = conn.execute(
                f"SELECT percentile_disc(?) WITHIN GROUP (ORDER BY latency_ms) {in_window} AND outcome = 'ok'",
                (_disc(0.5), *w.providers, *w.params)).fetchone()[0]
        elif latency_n and latency_n <= self.SUMMARY_SAMPLE:
            out["median_latency_ms"] = conn.execute(
                f"SELECT latency_ms {in_window} AND outcome = 'ok' AND latency_ms IS NOT NULL "
                f"ORDER BY latency_ms LIMIT 1 OFFSET ?",
                (*w.providers, *w.params, rank_position(latency_n, 0.5))).fetchone()[0]
        elif latency_n:
            stride = math.ceil(latency_n / self.SUMMARY_SAMPLE)
            sample = sorted(r[0] for r in conn.execute(
                f"SELECT latency_ms {in_window} AND outcome = 'ok' AND latency_ms IS NOT NULL AND id % ? = 0",
                (*w.providers, *w.params, stride)))
            out.update(median_latency_ms=nearest_rank(sample, 0.5), median_exact=False)
        return out

    # ------------------------------------------------------------------ Metrics page

    def metrics_report(self, since: float, until: float | None = None, buckets: int = 48) -> dict[str, Any]:
        """Everything the Metrics page shows, sharing the scans the single methods would each repeat:
        {'since', 'until', 'summary', 'latency_by_provider_model', 'latency_over_time',
        'requests_by_label_provider_model', 'tokens_cost_over_time', 'error_fallback_rates'}, each as returned
        by the method of that name, except that summary's median here is the weighted median of the
        per-bucket samples (exact when no bucket was sampled, i.e. `median_exact`)."""
        w = self._window(since, until)
        edges = bucket_edges(w.since, w.until, buckets)
        # The per-bucket pass and the grouping walks are independent: run them on both cores (sqlite3
        # releases the GIL while it steps; the worker thread opens its own connection to the same file).
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="metrics-cells") as pool:
            if getattr(self, "path", None) == ":memory:":     # another thread would see another database
                cells_job = None
            else:
                cells_job = pool.submit(self._sampled_cells, w, edges)
            counts = self._outcome_counts(w)
            latency = self._latency_by_provider_model(w, counts)
            fallbacks = self._fallbacks(w)
            cells = cells_job.result() if cells_job else self._sampled_cells(w, edges)
        return {"since": w.since, "until": w.until, "summary": _summary(counts, cells),
                "latency_by_provider_model": latency,
                "latency_over_time": self._latency_over_time(edges, cells),
                "requests_by_label_provider_model": _requests_by_label(counts),
                "tokens_cost_over_time": _tokens_cost(edges, cells),
                "error_fallback_rates": _error_rates(counts, fallbacks)}

    def latency_by_provider_model(self, since: float, until: float | None = None) -> list[dict[str, Any]]:
        """Per provider and model, over ok attempts: n, exact p50/p95 latency and p50 TTFT (ms).

        [{'provider', 'model', 'n', 'p50_ms', 'p95_ms', 'ttft_p50_ms'}], sorted by provider, model.
        """
        w = self._window(since, until)
        return self._latency_by_provider_model(w, None if w.narrow else self._outcome_counts(w))

    def latency_over_time(self, since: float, until: float | None = None,
                          buckets: int = 48) -> list[dict[str, Any]]:
        """Per time bucket and provider, over ok attempts: n (exact), p50/p95 latency and p50/p95 TTFT.

        Percentiles are exact for a bucket with at most `BUCKET_SAMPLE` ok attempts; above that they come
        from the ok rows whose id is a multiple of k = n // BUCKET_SAMPLE (about BUCKET_SAMPLE to
        2 × BUCKET_SAMPLE values). `sample_n` says how many values a row used.

        [{'start', 'end', 'provider', 'n', 'p50_ms', 'p95_ms', 'ttft_p50_ms', 'ttft_p95_ms', 'sample_n'}]
        for buckets with ok attempts, in time order.
        """
        w = self._window(since, until)
        edges = bucket_edges(w.since, w.until, buckets)
        return self._latency_over_time(edges, self._sampled_cells(w, edges))

    def requests_by_label_provider_model(self, since: float, until: float | None = None) -> list[dict[str, Any]]:
        """Answered requests by label → provider → model, counted by their final ok attempt
        (a request has at most one). Requests that no provider answered are not in it.

        [{'label', 'provider', 'model', 'requests'}]; label NULL becomes 'unlabelled'. Largest first.
        """
        return _requests_by_label(self._outcome_counts(self._window(since, until)))

    def tokens_cost_over_time(self, since: float, until: float | None = None,
                              buckets: int = 48) -> list[dict[str, Any]]:
        """Sums per time bucket over every attempt: tokens in, tokens out, cost (USD), attempts, ok attempts.

        [{'start', 'end', 'tokens_in', 'tokens_out', 'cost_usd', 'attempts', 'ok'}], one per bucket
        (zeros included), in time order.
        """
        w = self._window(since, until)
        edges = bucket_edges(w.since, w.until, buckets)
        return _tokens_cost(edges, self._cells(w, edges))

    def error_fallback_rates(self, since: float, until: float | None = None) -> list[dict[str, Any]]:
        """Per provider: attempts (cooldown skips excluded), ok, errors and errors by outcome kind,
        error_rate = errors / attempts, cooldown_skips, requests (that tried this provider),
        fallbacks (requests where this provider failed and another one answered) and
        fallback_rate = fallbacks / requests, failed_chains (requests where it failed and no provider
        answered: every provider failed) and failed_chain_rate = failed_chains / requests. Sorted by provider.
        """
        w = self._window(since, until)
        return _error_rates(self._outcome_counts(w), self._fallbacks(w))

    def usage_csv(self, since: float, until: float | None = None, batch_size: int = 5000, *,
                  session: str | None = None) -> Iterator[str]:
        """The window's raw usage rows as CSV text chunks (header first), in (ts, id) order; only the rows
        of `session` (a hash) when given, as a hosted visitor's export is.

        Each chunk is one keyset-paginated query, so no cursor stays open between chunks and at most
        `batch_size` rows are in memory. Consume it in one thread (each chunk uses that thread's connection).
        """
        until = time.time() if until is None else until
        columns = self.columns("usage")
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        yield buffer.getvalue()
        # Keyset pagination on idx_usage_ts (ts, then rowid): `ts >= last_ts` is the index range,
        # `ts > last_ts OR id > last_id` drops the rows with the same ts already sent.
        mine = " AND session = ?" if session is not None else ""
        sql = ("SELECT * FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND ts < ? AND (ts > ? OR id > ?)"
               f"{mine} ORDER BY ts, id LIMIT ?")
        ts_at, id_at = columns.index("ts"), columns.index("id")
        last_ts, last_id = since, -1
        while True:
            params = (last_ts, until, last_ts, last_id, *([session] if session is not None else []), batch_size)
            batch = self.execute(sql, params).fetchall()
            if not batch:
                return
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(batch)
            yield buffer.getvalue()
            if len(batch) < batch_size:
                return
            last_ts, last_id = batch[-1][ts_at], batch[-1][id_at]

    # ------------------------------------------------------------------ building blocks

    def activity_span(self, since: float, until: float | None = None) -> tuple[float, float] | None:
        """(first, last) usage row time in the window, or None when it is empty: two seeks on the ts index,
        so the Metrics page can fit its time buckets to the traffic."""
        until = time.time() if until is None else until
        conn = self
        first = conn.execute("SELECT min(ts) FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND ts < ?",
                             (since, until)).fetchone()[0]
        if first is None:
            return None
        last = conn.execute("SELECT max(ts) FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND ts < ?",
                            (since, until)).fetchone()[0]
        return float(first), float(last)

    def _window(self, since: float, until: float | None) -> Window:
        until = time.time() if until is None else until
        conn = self
        rows = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND ts < ? LIMIT ?) AS w",
            (since, until, self.NARROW_ROWS + 1)).fetchone()[0]
        return Window(float(since), float(until), rows <= self.NARROW_ROWS, self._provider_names())

    def _provider_names(self) -> tuple[str, ...]:
        """Distinct providers by skipping through the (provider, …) index: one seek per name, not a scan."""
        rows = self.execute(
            f"WITH RECURSIVE p(name) AS ("
            f" SELECT (SELECT min(provider) FROM usage INDEXED BY {BY_PROVIDER_TS})"
            f" UNION ALL"
            f" SELECT (SELECT min(provider) FROM usage INDEXED BY {BY_PROVIDER_TS} WHERE provider > p.name)"
            f" FROM p WHERE p.name IS NOT NULL)"
            f" SELECT name FROM p WHERE name IS NOT NULL").fetchall()
        return tuple(r[0] for r in rows)

    def _outcome_counts(self, w: Window) -> list[tuple[str, str | None, str, str | None, int]]:
        """(outcome, label, provider, model, rows) for every combination present in the window."""
        if not w.providers:
            return []
        select = "SELECT outcome, label, provider, model, count(*) FROM usage"
        group = "GROUP BY outcome, label, provider, model"
        if w.narrow:
            sql = (f"{select} INDEXED BY {BY_PROVIDER_TS} WHERE provider IN ({w.provider_list()}) "
                   f"AND ts >= ? AND ts < ? {group}")
            return self.execute(sql, (*w.providers, *w.params)).fetchall()
        sql = f"{select} INDEXED BY {BY_OUTCOME_LABEL} WHERE ts >= ? AND ts < ? {group}"
        return self.execute(sql, w.params).fetchall()

    def _latency_by_provider_model(self, w: Window, counts: list[tuple] | None) -> list[dict[str, Any]]:
        if self.dialect == "postgresql":
            return self._latency_by_group_ranked_by_server(w)
        if w.narrow:
            return self._latency_by_group_fetched(w)
        ok_by_group: dict[tuple[str, str | None], int] = defaultdict(int)
        for outcome, _label, provider, model, n in counts or []:
            if outcome == "ok":
                ok_by_group[(provider, model)] += n
        out = []
        for (provider, model), n in sorted(ok_by_group.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            p50, p95 = self._group_quantiles(w, provider, model, "latency_ms", n, (0.5, 0.95))
            (ttft_p50,) = self._group_quantiles(w, provider, model, "ttft_ms", n, (0.5,))
            out.append({"provider": provider, "model": model, "n": n, "p50_ms": p50, "p95_ms": p95,
                        "ttft_p50_ms": ttft_p50})
        return out

    def _latency_by_group_fetched(self, w: Window) -> list[dict[str, Any]]:
        """Narrow plan: the window's ok (provider, model, latency, ttft) rows, ranked in Python."""
        if not w.providers:
            return []
        groups: dict[tuple[str, str | None], tuple[list[float], list[float], list[int]]] = {}
        for provider, model, latency, ttft in self.execute(
                f"SELECT provider, model, latency_ms, ttft_ms FROM usage INDEXED BY {BY_PROVIDER_TS} "
                f"WHERE provider IN ({w.provider_list()}) AND ts >= ? AND ts < ? AND outcome = 'ok'",
                (*w.providers, *w.params)):
            latencies, ttfts, n = groups.setdefault((provider, model), ([], [], [0]))
            n[0] += 1
            if latency is not None:
                latencies.append(latency)
            if ttft is not None:
                ttfts.append(ttft)
        out = []
        for (provider, model), (latencies, ttfts, n) in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
            latencies.sort()
            ttfts.sort()
            out.append({"provider": provider, "model": model, "n": n[0], "p50_ms": nearest_rank(latencies, 0.5),
                        "p95_ms": nearest_rank(latencies, 0.95), "ttft_p50_ms": nearest_rank(ttfts, 0.5)})
        return out

    def _latency_by_group_ranked_by_server(self, w: Window) -> list[dict[str, Any]]:
        """PostgreSQL: one GROUP BY with ordered-set aggregates. `percentile_disc` is the nearest-rank
        percentile (`percentile_cont` interpolates), so both backends return the same values."""
        rows = self.execute(
            "SELECT provider, model, count(*), percentile_disc(?) WITHIN GROUP (ORDER BY latency_ms), "
            "percentile_disc(?) WITHIN GROUP (ORDER BY latency_ms), percentile_disc(?) WITHIN GROUP (ORDER BY ttft_ms) "
            "FROM usage WHERE ts >= ? AND ts < ? AND outcome = 'ok' GROUP BY provider, model",
            (_disc(0.5), _disc(0.95), _disc(0.5), *w.params)).fetchall()
        return [{"provider": p, "model": m, "n": n, "p50_ms": p50, "p95_ms": p95, "ttft_p50_ms": ttft}
                for p, m, n, p50, p95, ttft in sorted(rows, key=lambda r: (r[0], r[1] or ""))]

    def _group_quantiles(self, w: Window, provider: str, model: str | None, column: str, ok_rows: int,
                         qs: tuple[float, ...]) -> list[float | None]:
        """Wide plan: exact quantiles of `column` over one provider/model's ok attempts, by walking the
        (provider, model, outcome, column, ts) index to the rank (`ORDER BY … LIMIT 1 OFFSET k`, no sort)."""
        index = BY_LATENCY if column == "latency_ms" else BY_TTFT
        where = (f"FROM usage INDEXED BY {index} WHERE provider = ? AND model IS ? AND outcome = 'ok' "
                 f"AND ts >= ? AND ts < ?")
        conn = self
        nulls = conn.execute(f"SELECT count(*) {where} AND {column} IS NULL",
                             (provider, model, *w.params)).fetchone()[0]
        n = ok_rows - nulls
        if n <= 0:
            return [None for _ in qs]
        return [conn.execute(f"SELECT {column} {where} AND {column} IS NOT NULL ORDER BY {column} LIMIT 1 OFFSET ?",
                             (provider, model, *w.params, rank_position(n, q))).fetchone()[0] for q in qs]

    @staticmethod
    def _latency_over_time(edges: list[float], cells: dict[tuple[int, str], _Cell]) -> list[dict[str, Any]]:
        out = []
        for (i, provider), cell in sorted(cells.items()):
            if not cell.ok:
                continue
            latency, ttft = sorted(cell.latencies), sorted(cell.ttfts)
            out.append({"start": edges[i], "end": edges[i + 1], "provider": provider, "n": cell.ok,
                        "p50_ms": nearest_rank(latency, 0.5), "p95_ms": nearest_rank(latency, 0.95),
                        "ttft_p50_ms": nearest_rank(ttft, 0.5), "ttft_p95_ms": nearest_rank(ttft, 0.95),
                        "sample_n": len(latency)})
        return out

    def _cells(self, w: Window, edges: list[float]) -> dict[tuple[int, str], _Cell]:
        """Exact per (bucket, provider) sums: one range query per cell on (provider, ts), no GROUP BY sort."""
        conn = self
        sql = (f"SELECT count(*), {OK_ROWS}, {NOT_ATTEMPTS}, "
               f"{FIRST_ATTEMPTS}, sum(tokens_in), sum(tokens_out), sum(cost_usd) "
               f"FROM usage INDEXED BY {BY_PROVIDER_TS} WHERE provider = ? AND ts >= ? AND ts < ?")
        cells: dict[tuple[int, str], _Cell] = {}
        for provider in w.providers:
            for i in range(len(edges) - 1):
                rows, ok, skips, requests, tokens_in, tokens_out, cost = conn.execute(
                    sql, (provider, edges[i], edges[i + 1])).fetchone()
                if rows:
                    cells[(i, provider)] = _Cell(rows, ok or 0, skips or 0, requests or 0, tokens_in or 0,
                                                 tokens_out or 0, cost or 0.0)
        return cells

    def _sampled_cells(self, w: Window, edges: list[float]) -> dict[tuple[int, str], _Cell]:
        """`_cells` plus each cell's ok latencies and TTFTs: all of them up to BUCKET_SAMPLE ok rows, else the
        rows whose id is a multiple of k = ok // BUCKET_SAMPLE (an index range scan that returns only those)."""
        cells = self._cells(w, edges)
        conn = self
        sql = (f"SELECT latency_ms, ttft_ms FROM usage INDEXED BY {BY_PROVIDER_TS} "
               f"WHERE provider = ? AND ts >= ? AND ts < ? AND outcome = 'ok' AND id % ? = 0")
        for (i, provider), cell in cells.items():
            if not cell.ok:
                continue
            cell.stride = max(1, cell.ok // self.BUCKET_SAMPLE)
            rows = conn.execute(sql, (provider, edges[i], edges[i + 1], cell.stride)).fetchall()
            cell.latencies = [v for v, _ in rows if v is not None]
            cell.ttfts = [v for _, v in rows if v is not None]
        return cells

    def _fallbacks(self, w: Window) -> dict[str, tuple[int, int]]:
        """provider -> (requests where it failed and another provider answered,
                        requests where it failed and did not answer itself).

        Failed attempts come from the partial index of non-ok rows; who answered their request is one seek in
        the partial index of ok rows with attempt > 1 (an answer after a failure is never attempt 1, and a
        request has at most one ok row). Distinct answers are counted by their integer rowid, not request_id.
        """
        rows = self.execute(
            f"SELECT f.provider, count(DISTINCT CASE WHEN a.provider != f.provider THEN a.rowid END), "
            f"       count(DISTINCT CASE WHEN a.rowid IS NULL THEN f.request_id END) "
            f"FROM usage f INDEXED BY {FAILED} "
            f"LEFT JOIN usage a INDEXED BY {FALLBACK_ANSWERS} "
            f"       ON a.request_id = f.request_id AND a.outcome = 'ok' AND a.attempt > 1 "
            f"WHERE f.outcome != 'ok' AND f.outcome != 'cooldown_skip' AND f.outcome != 'started' "
            f"AND f.ts >= ? AND f.ts < ? "
            f"GROUP BY f.provider", w.params).fetchall()
        return {p: (fell_back, fell_back + unanswered) for p, fell_back, unanswered in rows}


# ---------------------------------------------------------------------- from counts and cells to rows


def _requests_by_label(counts: list[tuple]) -> list[dict[str, Any]]:
    by_path: dict[tuple[str, str, str | None], int] = defaultdict(int)
    for outcome, label, provider, model, n in counts:
        if outcome == "ok":
            by_path[(label or UNLABELLED, provider, model)] += n
    rows = [{"label": label, "provider": provider, "model": model, "requests": n}
            for (label, provider, model), n in by_path.items()]
    return sorted(rows, key=lambda r: (-r["requests"], r["label"], r["provider"], r["model"] or ""))


def _summary(counts: list[tuple], cells: dict[tuple[int, str], _Cell]) -> dict[str, Any]:
    """`summary()` from the shared counts and cells; in the median each sampled value stands for `stride`
    values of its bucket (1 when the bucket was read in full, so then it is exact)."""
    rows = sum(n for *_, n in counts)
    skips = sum(n for outcome, *_, n in counts if outcome == "cooldown_skip")
    in_flight = sum(n for outcome, *_, n in counts if outcome == "started")
    ok = sum(n for outcome, *_, n in counts if outcome == "ok")
    attempts = rows - skips - in_flight
    weighted = sorted((v, c.stride) for c in cells.values() for v in c.latencies)
    median = None
    if weighted:
        target, seen = math.ceil(0.5 * sum(wt for _, wt in weighted) - 1e-9), 0.0
        median = weighted[-1][0]
        for value, wt in weighted:
            seen += wt
            if seen >= target - 1e-9:
                median = value
                break
    return {"requests": sum(c.requests for c in cells.values()), "cost_usd": sum(c.cost_usd for c in cells.values()),
            "attempts": attempts, "errors": attempts - ok, "cooldown_skips": skips, "in_flight": in_flight,
            "error_rate": (attempts - ok) / attempts if attempts else 0.0, "median_latency_ms": median,
            "median_exact": all(c.stride == 1 for c in cells.values())}


def _tokens_cost(edges: list[float], cells: dict[tuple[int, str], _Cell]) -> list[dict[str, Any]]:
    rows = [{"start": edges[i], "end": edges[i + 1], "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0,
             "attempts": 0, "ok": 0} for i in range(len(edges) - 1)]
    for (i, _provider), cell in cells.items():
        row = rows[i]
        row["tokens_in"] += cell.tokens_in
        row["tokens_out"] += cell.tokens_out
        row["cost_usd"] += cell.cost_usd
        row["attempts"] += cell.rows - cell.skips
        row["ok"] += cell.ok
    return rows


def _error_rates(counts: list[tuple], fallbacks: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    per: dict[str, dict[str, Any]] = {}
    for outcome, _label, provider, _model, n in counts:
        row = per.setdefault(provider, {"provider": provider, "attempts": 0, "ok": 0, "errors": 0,
                                        "errors_by_kind": {}, "cooldown_skips": 0})
        if outcome == "cooldown_skip":
            row["cooldown_skips"] += n
            continue
        if outcome == "started":          # in flight: neither an answer nor an error yet
            continue
        row["attempts"] += n
        if outcome == "ok":
            row["ok"] += n
        else:
            row["errors"] += n
            row["errors_by_kind"][outcome] = row["errors_by_kind"].get(outcome, 0) + n
    for provider, row in per.items():
        fell_back, failed_unanswered_here = fallbacks.get(provider, (0, 0))
        row["error_rate"] = row["errors"] / row["attempts"] if row["attempts"] else 0.0
        row["requests"] = row["ok"] + failed_unanswered_here
        row["fallbacks"] = fell_back
        row["fallback_rate"] = fell_back / row["requests"] if row["requests"] else 0.0
        # Failed here and nobody answered: a chain where every provider failed (neither a fallback nor an answer).
        row["failed_chains"] = failed_unanswered_here - fell_back
        row["failed_chain_rate"] = row["failed_chains"] / row["requests"] if row["requests"] else 0.0
        row["errors_by_kind"] = dict(sorted(row["errors_by_kind"].items()))
    return [per[p] for p in sorted(per)]
