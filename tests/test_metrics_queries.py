"""Metrics queries against a real SQLite file: exact aggregates on hand-built usage rows, in both plans
(narrow: sort the window's rows; wide: walk the covering indexes)."""

from __future__ import annotations

import csv
import io
import math
import random
from pathlib import Path

import pytest

from core.store import Store
from core.store.metrics import bucket_edges, nearest_rank, rank_position

T0 = 1_700_000_000.0


@pytest.fixture(params=["narrow", "wide", "postgresql"])
def store(request, tmp_path: Path):
    """SQLite in both plans, and PostgreSQL (ordered-set aggregates: `percentile_disc`)."""
    s = Store(request.getfixturevalue("pg_schema_url") if request.param == "postgresql" else tmp_path / "metrics.db")
    if request.param == "wide":
        s.NARROW_ROWS = 0          # every window counts as wide: the index-walk plan
    yield s
    s.close()
    s.close_connections()


def usage(request_id: str, ts: float, provider: str = "alpha", model: str | None = "m1", *, attempt: int = 1,
          outcome: str = "ok", latency_ms: float | None = 100.0, ttft_ms: float | None = None,
          label: str | None = "QUICK", tokens_in: int | None = None, tokens_out: int | None = None,
          cost_usd: float | None = None) -> dict:
    return {"request_id": request_id, "ts": ts, "provider": provider, "model": model, "attempt": attempt,
            "outcome": outcome, "latency_ms": latency_ms, "ttft_ms": ttft_ms, "label": label,
            "tokens_in": tokens_in, "tokens_out": tokens_out, "cost_usd": cost_usd, "key_source": "shared"}


def by_provider(rows: list[dict]) -> dict[str, dict]:
    return {r["provider"]: r for r in rows}


def test_rank_position_is_nearest_rank():
    assert [rank_position(100, q) for q in (0.5, 0.95, 1.0)] == [49, 94, 99]
    assert rank_position(1, 0.95) == 0 and rank_position(20, 0.95) == 18
    assert nearest_rank([1.0, 3.0, 5.0], 0.5) == 3.0 and nearest_rank([], 0.5) is None
    assert bucket_edges(0, 100, 4) == [0, 25, 50, 75, 100]


def test_latency_percentiles_per_provider_model_are_exact(store: Store):
    rows = [usage(f"a{i}", T0 + i, latency_ms=float(v), ttft_ms=float(v) / 10 if i % 2 == 0 else None)
            for i, v in enumerate(random.Random(1).sample(range(1, 21), 20))]
    rows += [usage("b1", T0, "beta", "m2", latency_ms=5.0, ttft_ms=2.0),
             usage("b2", T0, "beta", "m2", latency_ms=1.0, ttft_ms=1.0),
             usage("b3", T0, "beta", "m2", latency_ms=3.0, ttft_ms=3.0)]
    # Failures never count, however slow; neither does a NULL latency in the percentile.
    rows += [usage("e1", T0, outcome="timeout", latency_ms=99_999.0, attempt=1),
             usage("n1", T0, "beta", "m2", latency_ms=None, ttft_ms=None)]
    store.bulk_insert_usage(rows)

    got = store.latency_by_provider_model(T0 - 1, T0 + 100)

    alpha_ttft = sorted(r["ttft_ms"] for r in rows[:20] if r["ttft_ms"] is not None)
    assert got == [
        {"provider": "alpha", "model": "m1", "n": 20, "p50_ms": 10.0, "p95_ms": 19.0,
         "ttft_p50_ms": nearest_rank(alpha_ttft, 0.5)},
        {"provider": "beta", "model": "m2", "n": 4, "p50_ms": 3.0, "p95_ms": 5.0, "ttft_p50_ms": 2.0},
    ]


def test_window_keeps_since_and_drops_until(store: Store):
    store.bulk_insert_usage([
        usage("before", T0 - 0.001, latency_ms=1.0, tokens_in=1),
        usage("at_since", T0, latency_ms=10.0, tokens_in=10),
        usage("inside", T0 + 59.5, latency_ms=20.0, tokens_in=100),
        usage("at_until", T0 + 60, latency_ms=1000.0, tokens_in=1000),
    ])
    assert [(r["n"], r["p50_ms"], r["p95_ms"]) for r in store.latency_by_provider_model(T0, T0 + 60)] == [
        (2, 10.0, 20.0)]
    assert sum(r["tokens_in"] for r in store.tokens_cost_over_time(T0, T0 + 60, buckets=3)) == 110
    assert store.requests_by_label_provider_model(T0, T0 + 60)[0]["requests"] == 2
    assert store.summary(T0, T0 + 60)["requests"] == 2
    assert store.latency_by_provider_model(T0 + 61, T0 + 120) == []


def fallback_scenario() -> list[dict]:
    """Six requests whose error and fallback rates are worked out by hand in the test below."""
    return [
        usage("r1", T0, "A", attempt=1),                                         # A answers
        usage("r2", T0, "A", attempt=1, outcome="timeout"),                      # A fails, B answers
        usage("r2", T0, "B", attempt=2),
        usage("r3", T0, "A", attempt=1, outcome="rate_limited"),                 # A fails, A answers on retry
        usage("r3", T0, "A", attempt=2),
        usage("r4", T0, "A", attempt=1, outcome="cooldown_skip", latency_ms=None),  # A skipped, B answers
        usage("r4", T0, "B", attempt=2),
        usage("r5", T0, "B", attempt=1, outcome="unavailable"),                  # nobody answers
        usage("r5", T0, "A", attempt=2, outcome="unavailable"),
        usage("r6", T0, "A", attempt=1, outcome="timeout"),                      # A fails twice, C answers
        usage("r6", T0, "A", attempt=2, outcome="timeout"),
        usage("r6", T0, "C", "m9", attempt=3, label=None),
    ]


def test_error_and_fallback_rates_match_hand_counts(store: Store):
    store.bulk_insert_usage(fallback_scenario())

    rates = by_provider(store.error_fallback_rates(T0, T0 + 1))

    a = rates["A"]
    assert (a["attempts"], a["ok"], a["errors"], a["cooldown_skips"]) == (7, 2, 5, 1)
    assert a["errors_by_kind"] == {"rate_limited": 1, "timeout": 3, "unavailable": 1}
    assert a["error_rate"] == pytest.approx(5 / 7)
    # Tried by r1, r2, r3, r5, r6 (r4 only skipped it); fell back in r2 and r6 (r6 once, not twice).
    assert (a["requests"], a["fallbacks"]) == (5, 2)
    assert a["fallback_rate"] == pytest.approx(2 / 5)
    b = rates["B"]
    assert (b["attempts"], b["ok"], b["errors"], b["requests"], b["fallbacks"]) == (3, 2, 1, 3, 0)
    assert b["error_rate"] == pytest.approx(1 / 3) and b["fallback_rate"] == 0
    c = rates["C"]
    assert (c["attempts"], c["errors"], c["requests"], c["fallbacks"], c["errors_by_kind"]) == (1, 0, 1, 0, {})


def test_requests_by_label_counts_each_answered_request_once(store: Store):
    store.bulk_insert_usage(fallback_scenario())

    got = store.requests_by_label_provider_model(T0, T0 + 1)

    # r1, r3 answered by A; r2, r4 by B; r6 by C (no label); r5 never answered.
    assert got == [
        {"label": "QUICK", "provider": "A", "model": "m1", "requests": 2},
        {"label": "QUICK", "provider": "B", "model": "m1", "requests": 2},
        {"label": "unlabelled", "provider": "C", "model": "m9", "requests": 1},
    ]


def test_summary_counts_requests_errors_and_median(store: Store):
    rows = fallback_scenario()
    for r in rows:
        r["cost_usd"] = 0.25 if r["outcome"] == "ok" else None
    store.record_attempts(rows, wait=True)

    s = store.summary(T0, T0 + 1)

    assert s["requests"] == 6
    assert s["cost_usd"] == pytest.approx(1.25)
    assert (s["attempts"], s["errors"], s["cooldown_skips"]) == (11, 6, 1)
    assert s["error_rate"] == pytest.approx(6 / 11)
    assert s["median_latency_ms"] == 100.0
    empty = store.summary(T0 + 10, T0 + 20)
    assert (empty["requests"], empty["error_rate"], empty["median_latency_ms"]) == (0, 0.0, None)


def test_tokens_and_cost_per_bucket_include_empty_buckets(store: Store):
    store.bulk_insert_usage([
        usage("x1", T0 + 0, tokens_in=10, tokens_out=1, cost_usd=0.5),
        usage("x2", T0 + 24.9, "beta", tokens_in=20, tokens_out=2, cost_usd=0.25),
        usage("x3", T0 + 25, tokens_in=40, tokens_out=4, cost_usd=1.0, outcome="stream_error"),
        usage("x4", T0 + 99.9, tokens_in=80, tokens_out=8),
        usage("x5", T0 + 99.9, outcome="cooldown_skip"),
        usage("x6", T0 + 100, tokens_in=1000, tokens_out=1000, cost_usd=9.0),
    ])

    got = store.tokens_cost_over_time(T0, T0 + 100, buckets=4)

    assert [r["start"] - T0 for r in got] == [0, 25, 50, 75]
    assert [(r["tokens_in"], r["tokens_out"], r["attempts"], r["ok"]) for r in got] == [
        (30, 3, 2, 2), (40, 4, 1, 0), (0, 0, 0, 0), (80, 8, 1, 1)]
    assert [r["cost_usd"] for r in got] == pytest.approx([0.75, 1.0, 0.0, 0.0])


def test_latency_over_time_is_exact_for_small_buckets_and_sampled_for_large_ones(store: Store):
    store.BUCKET_SAMPLE = 10
    small = [usage(f"s{i}", T0 + i, latency_ms=float(v), ttft_ms=float(v) / 2) for i, v in enumerate([7, 1, 5, 3])]
    quiet = [usage(f"q{i}", T0 + 10 + i, "beta", latency_ms=float(v)) for i, v in enumerate([9, 8, 7])]
    busy = [usage(f"l{i}", T0 + 50 + i * 0.1, "beta", latency_ms=float(i + 1)) for i in range(100)]
    store.bulk_insert_usage(small + quiet + busy)

    got = store.latency_over_time(T0, T0 + 100, buckets=2)

    assert [(r["start"] - T0, r["provider"], r["n"]) for r in got] == [(0, "alpha", 4), (0, "beta", 3),
                                                                      (50, "beta", 100)]
    alpha, beta_quiet, beta_busy = got
    assert (alpha["sample_n"], alpha["p50_ms"], alpha["p95_ms"]) == (4, 3.0, 7.0)
    assert (alpha["ttft_p50_ms"], alpha["ttft_p95_ms"]) == (1.5, 3.5)
    assert (beta_quiet["sample_n"], beta_quiet["p50_ms"], beta_quiet["p95_ms"]) == (3, 8.0, 9.0)
    # 100 ok attempts, 10 wanted: the rows whose id is a multiple of 10; n stays exact.
    assert beta_busy["sample_n"] == 10
    assert 35 <= beta_busy["p50_ms"] <= 65 and beta_busy["p95_ms"] >= 85
    assert beta_busy["ttft_p50_ms"] is None


def test_usage_csv_streams_exactly_the_rows_in_range(store: Store):
    rows = [usage(f"c{i}", T0 + (i // 3), latency_ms=float(i)) for i in range(15)]     # 3 rows share each ts
    rows.append(usage("late", T0 + 100))
    rows.append(usage("early", T0 - 1))
    store.bulk_insert_usage(rows)

    chunks = list(store.usage_csv(T0, T0 + 50, batch_size=4))

    parsed = list(csv.DictReader(io.StringIO("".join(chunks))))
    header = next(csv.reader(io.StringIO(chunks[0])))
    assert header[:3] == ["id", "request_id", "ts"] and "error" in header and "cost_usd" in header
    assert [r["request_id"] for r in parsed] == [f"c{i}" for i in range(15)]
    assert len(chunks) == 1 + math.ceil(15 / 4)            # the header, then batches of at most 4 rows
    assert parsed[4]["latency_ms"] == "4.0" and parsed[4]["outcome"] == "ok"
    assert list(store.usage_csv(T0 + 200, T0 + 300)) == [chunks[0]]


def test_narrow_and_wide_plans_agree_with_python_on_random_data(tmp_path: Path):
    rng = random.Random(7)
    rows = []
    for i in range(400):
        provider = rng.choice(["p1", "p2"])
        model = rng.choice(["a", "b", None])
        outcome = rng.choice(["ok"] * 8 + ["timeout", "cooldown_skip"])
        rows.append(usage(f"q{i}", T0 + rng.uniform(0, 1000), provider, model, outcome=outcome,
                          latency_ms=round(rng.uniform(1, 500), 1), ttft_ms=rng.choice([None, 5.0, 7.5, 30.0]),
                          label=rng.choice(["QUICK", "URGENT", None]), tokens_in=rng.randint(0, 50)))
    results = []
    for narrow_rows in (10**9, 0):
        s = Store(tmp_path / f"plan{narrow_rows}.db")
        s.NARROW_ROWS = narrow_rows
        s.bulk_insert_usage(rows)
        results.append([s.latency_by_provider_model(T0 + 100, T0 + 900),
                        s.requests_by_label_provider_model(T0 + 100, T0 + 900),
                        s.error_fallback_rates(T0 + 100, T0 + 900)])
        s.close()
    assert results[0] == results[1]
    in_window = [r for r in rows if T0 + 100 <= r["ts"] < T0 + 900 and r["outcome"] == "ok"]
    for got in results[0][0]:
        values = sorted(r["latency_ms"] for r in in_window
                        if (r["provider"], r["model"]) == (got["provider"], got["model"]))
        ttfts = sorted(r["ttft_ms"] for r in in_window
                       if (r["provider"], r["model"]) == (got["provider"], got["model"]) and r["ttft_ms"] is not None)
        assert (got["n"], got["p50_ms"], got["p95_ms"], got["ttft_p50_ms"]) == (
            len(values), nearest_rank(values, 0.5), nearest_rank(values, 0.95), nearest_rank(ttfts, 0.5))


def test_postgresql_gives_the_same_figures_as_both_sqlite_plans(tmp_path: Path, pg_schema_url: str):
    """Random traffic, every report: PostgreSQL's percentile_disc picks the same nearest-rank values."""
    rng = random.Random(17)
    rows = [usage(f"q{i}", T0 + rng.uniform(0, 1000), rng.choice(["p1", "p2"]), rng.choice(["a", "b", None]),
                  attempt=rng.choice([1, 1, 2]), outcome=rng.choice(["ok"] * 7 + ["timeout", "cooldown_skip", "started"]),
                  latency_ms=rng.choice([None, round(rng.uniform(1, 500), 1)]), ttft_ms=rng.choice([None, 5.0, 7.5]),
                  label=rng.choice(["QUICK", None]), tokens_in=rng.randint(0, 50), cost_usd=rng.choice([None, 0.25]))
            for i in range(997)]
    reports = []
    for where in (tmp_path / "a.db", tmp_path / "b.db", pg_schema_url):
        s = Store(where)
        s.NARROW_ROWS = 0 if str(where).endswith("b.db") else 10**9
        s.bulk_insert_usage(rows)
        report = s.metrics_report(T0 + 50, T0 + 950, buckets=7)
        reports.append((report, s.summary(T0 + 50, T0 + 950), s.latency_by_provider_model(T0, T0 + 1000),
                        s.activity_span(T0, T0 + 1000), list(s.usage_csv(T0 + 10, T0 + 20))))
        s.close()
        s.close_connections()
    assert reports[0] == reports[1] == reports[2]


def test_migration_adds_the_metrics_indexes(tmp_path: Path):
    s = Store(tmp_path / "idx.db")
    names = {r[0] for r in s.db().conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert s.schema_version() >= 2
    assert {"idx_usage_provider_ts_metrics", "idx_usage_outcome_label_provider_model_ts",
            "idx_usage_provider_model_outcome_latency_ms_ts", "idx_usage_provider_model_outcome_ttft_ms_ts",
            "idx_usage_failed_ts", "idx_usage_fallback_answers"} <= names
    s.close()


def test_wide_plan_reads_indexes_in_order_without_sorting(tmp_path: Path):
    """The 1M-row budget depends on these plans: a temp B-tree here means a sort of the whole window."""
    s = Store(tmp_path / "plan.db")
    conn = s.db().conn

    def plan(sql: str, params: tuple) -> str:
        return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))

    counts = plan("SELECT outcome, label, provider, model, count(*) FROM usage "
                  "INDEXED BY idx_usage_outcome_label_provider_model_ts WHERE ts >= ? AND ts < ? "
                  "GROUP BY outcome, label, provider, model", (0, 1))
    rank = plan("SELECT latency_ms FROM usage INDEXED BY idx_usage_provider_model_outcome_latency_ms_ts "
                "WHERE provider = ? AND model IS ? AND outcome = 'ok' AND ts >= ? AND ts < ? "
                "AND latency_ms IS NOT NULL ORDER BY latency_ms LIMIT 1 OFFSET ?", ("a", "m", 0, 1, 0))
    cell = plan("SELECT count(*), sum(tokens_in) FROM usage INDEXED BY idx_usage_provider_ts_metrics "
                "WHERE provider = ? AND ts >= ? AND ts < ?", ("a", 0, 1))
    for p in (counts, rank, cell):
        assert "COVERING INDEX" in p and "TEMP B-TREE" not in p, p
    s.close()


def test_metrics_report_equals_the_single_queries(store: Store):
    rows = fallback_scenario() + [usage(f"t{i}", T0 + 10 * i, "B", ttft_ms=float(i), tokens_in=i, cost_usd=0.01 * i)
                                  for i in range(30)]
    store.bulk_insert_usage(rows)

    report = store.metrics_report(T0, T0 + 300, buckets=6)

    assert (report["since"], report["until"]) == (T0, T0 + 300)
    assert report["latency_by_provider_model"] == store.latency_by_provider_model(T0, T0 + 300)
    assert report["latency_over_time"] == store.latency_over_time(T0, T0 + 300, buckets=6)
    assert report["requests_by_label_provider_model"] == store.requests_by_label_provider_model(T0, T0 + 300)
    assert report["tokens_cost_over_time"] == store.tokens_cost_over_time(T0, T0 + 300, buckets=6)
    assert report["error_fallback_rates"] == store.error_fallback_rates(T0, T0 + 300)


def test_summary_median_of_a_large_window_comes_from_an_even_sample(store: Store):
    store.SUMMARY_SAMPLE = 50
    store.bulk_insert_usage([usage(f"m{i}", T0 + i, latency_ms=float(i)) for i in range(1, 1001)])

    s = store.summary(T0, T0 + 2000)

    if store.dialect == "postgresql":      # the server ranks every value: exact whatever the window
        assert (s["median_exact"], s["median_latency_ms"], s["requests"]) == (True, 500.0, 1000)
        return
    assert s["median_exact"] is False and s["requests"] == 1000
    assert 450 <= s["median_latency_ms"] <= 550
    store.SUMMARY_SAMPLE = 10_000
    assert store.summary(T0, T0 + 2000)["median_latency_ms"] == 500.0


def test_report_summary_matches_summary_when_no_bucket_is_sampled(store: Store):
    rows = fallback_scenario() + [usage(f"t{i}", T0 + 10 * i, "B", latency_ms=float(i % 7), cost_usd=0.5)
                                  for i in range(1, 30)]
    store.bulk_insert_usage(rows)

    report = store.metrics_report(T0, T0 + 300, buckets=5)["summary"]

    assert report == store.summary(T0, T0 + 300)
    assert report["median_exact"] is True and report["requests"] == 6 + 29


def test_report_summary_median_weights_sampled_buckets(store: Store):
    store.BUCKET_SAMPLE = 10
    # Bucket 0: 200 fast attempts, 10 sampled (1 in 20); bucket 1: 25 slow ones, 12 sampled (1 in 2).
    fast = [usage(f"f{i}", T0 + i * 0.1, latency_ms=10.0) for i in range(200)]
    slow = [usage(f"s{i}", T0 + 50 + i, latency_ms=1000.0) for i in range(25)]
    store.bulk_insert_usage(fast + slow)

    report = store.metrics_report(T0, T0 + 100, buckets=2)["summary"]

    # Unweighted, the 12 slow samples would outnumber the 10 fast ones and the median would be 1000.
    assert report["median_latency_ms"] == 10.0 and report["median_exact"] is False
    assert report["requests"] == 225
