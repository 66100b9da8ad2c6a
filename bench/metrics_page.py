"""Metrics page on a big usage table: our SQL queries + chart builders vs reading the rows into pandas.

    python bench/metrics_page.py                  # 1,000,000 rows over 7 days (the fill takes a minute or two)
    python bench/metrics_page.py --quick          # 50,000 rows
    python bench/metrics_page.py --rows 200000 --db /tmp/usage.db --keep   # keep the file; reuse it next time

What is timed, per window (the whole 7 days = every row, and the last 24 h):

* **page data**: `Store.metrics_report` (the summary numbers, both latency views, the sunburst counts,
  tokens and cost, error and fallback rates) plus the six chart builders: the page render minus
  Streamlit. Also timed: the same data through `summary` + the five single-purpose queries. Median of
  `--rounds` runs.
* **AppTest render**: a minimal Streamlit script that calls the same functions and draws the figures
  (`AppTest.from_string`, default_timeout=30): Streamlit's script run and figure serialisation included.
  When `pages/metrics.py` already calls the queries, `Home.py` → `switch_page("pages/metrics.py")` is timed too.
* **pandas baseline**: `pd.read_sql_query("select * from usage", conn)`, then the same aggregates in pandas.

The rows: 4 providers × 3 models, lognormal latencies with a daily peak, ~8% failed attempts of seven
kinds each followed by a fallback to another provider, ~1% cooldown skips, labels QUICK/COMPLEX/URGENT
and unlabelled, inserted in time order with `Store.bulk_insert_usage` (as the router writes them).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.app.views import charts  # noqa: E402
from core.store import Store  # noqa: E402

DAY = 86400.0
PROVIDERS = {
    "huggingface": ["meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-72B-Instruct", "deepseek-ai/DeepSeek-V3"],
    "openrouter": ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4", "google/gemini-2.0-flash-001"],
    "together": ["meta-llama/Llama-3.3-70B", "mistralai/Mixtral-8x7B", "Qwen/Qwen2.5-Coder-32B"],
    "local": ["llama3.1:8b", "phi3:mini", "gemma2:9b"],
}
ERROR_KINDS = ["rate_limited", "unavailable", "timeout", "auth", "bad_response", "stream_error", "payment"]
LABELS = ["QUICK"] * 5 + ["COMPLEX"] * 2 + ["URGENT", None]
TARGET_S = 1.5


# ---------------------------------------------------------------------- data


def synthetic_usage(n: int, now: float, days: float = 7.0, seed: int = 0) -> Iterator[dict[str, Any]]:
    """n usage rows (one per attempt), requests evenly spread over `days` before `now`, in time order."""
    rng = random.Random(seed)
    start = now - days * DAY
    names = list(PROVIDERS)
    base_ms = {(p, m): 250 + 220 * i + 180 * j for i, p in enumerate(names) for j, m in enumerate(PROVIDERS[p])}
    made = 0
    while made < n:
        ts = start + (now - start) * made / n
        peak = 1 + 0.35 * math.sin(2 * math.pi * ((ts / 3600) % 24 - 8) / 24)     # busier, slower afternoons
        request_id = uuid.UUID(int=rng.getrandbits(128)).hex
        label = rng.choice(LABELS)
        session = f"{rng.getrandbits(64):016x}"
        order = rng.sample(names, len(names))
        for attempt, provider in enumerate(order, start=1):
            model = rng.choice(PROVIDERS[provider])
            row = {"request_id": request_id, "ts": ts, "session": session, "provider": provider, "model": model,
                   "key_source": rng.choice(("shared", "shared", "byok")), "attempt": attempt, "label": label,
                   "streamed": rng.random() < 0.6}
            luck = rng.random()
            if attempt < len(order) and luck < 0.01:
                row.update(outcome="cooldown_skip", error="provider cooling down after repeated failures")
            elif attempt < len(order) and luck < 0.09:
                kind = rng.choice(ERROR_KINDS)
                row.update(outcome=kind, http_status={"rate_limited": 429, "auth": 401, "payment": 402}.get(kind, 503),
                           latency_ms=round(rng.uniform(30, 4000), 1), error=f"{provider}: {kind.replace('_', ' ')}")
            else:
                latency = round(base_ms[(provider, model)] * peak * rng.lognormvariate(0, 0.45), 1)
                tokens_in, tokens_out = rng.randint(20, 3000), rng.randint(5, 900)
                row.update(outcome="ok", http_status=200, latency_ms=latency,
                           ttft_ms=round(latency * rng.uniform(0.08, 0.35), 1), tokens_in=tokens_in,
                           tokens_out=tokens_out, cost_usd=round(tokens_in * 0.3e-6 + tokens_out * 1.2e-6, 9),
                           cost_source="price_table")
            yield row
            made += 1
            if row["outcome"] == "ok" or made >= n:
                break


def fill(path: Path, rows: int, now: float) -> float:
    store = Store(path)
    # Bench only: a big page cache so the 9 indexes are not re-read from disk on every batch.
    store.db().conn.execute("pragma cache_size = -400000")
    start = time.perf_counter()
    store.bulk_insert_usage(synthetic_usage(rows, now), batch_size=20_000)
    store.db().conn.execute("pragma wal_checkpoint(TRUNCATE)")
    store.close()
    return time.perf_counter() - start


# ---------------------------------------------------------------------- the page, three ways


def page_data(store: Store, since: float, until: float) -> dict[str, Any]:
    """Everything the Metrics page shows, as data and figures: one `metrics_report` + six chart builders."""
    report = store.metrics_report(since, until)
    colors = charts.provider_colors(r["provider"] for r in report["error_fallback_rates"])
    over_time = report["latency_over_time"]
    report["figures"] = [
        charts.latency_percentiles_chart(report["latency_by_provider_model"]),
        charts.latency_over_time_chart(over_time, colors), charts.ttft_chart(over_time, colors),
        charts.sunburst_chart(report["requests_by_label_provider_model"], colors),
        charts.tokens_cost_chart(report["tokens_cost_over_time"]),
        charts.error_rates_chart(report["error_fallback_rates"])]
    return report


def separate_calls(store: Store, since: float, until: float) -> None:
    """The same data through `summary` and the five single-purpose methods (each repeats its own scans)."""
    store.summary(since, until)
    store.latency_by_provider_model(since, until)
    store.latency_over_time(since, until)
    store.requests_by_label_provider_model(since, until)
    store.tokens_cost_over_time(since, until)
    store.error_fallback_rates(since, until)


def pandas_baseline(path: Path, since: float, until: float, buckets: int = 48) -> dict[str, Any]:
    """The same aggregates from `select * from usage` in pandas (the approach the issue rules out)."""
    import pandas as pd

    with sqlite3.connect(path) as conn:
        frame = pd.read_sql_query("select * from usage", conn)
    w = frame[(frame.ts >= since) & (frame.ts < until)]
    ok = w[w.outcome == "ok"]
    width = (until - since) / buckets
    bucket = ((w.ts - since) // width).astype(int)
    ok_bucket = bucket[w.outcome == "ok"]
    latency = ok.groupby(["provider", "model"]).agg(
        n=("latency_ms", "size"), p50=("latency_ms", lambda s: s.quantile(0.5, interpolation="lower")),
        p95=("latency_ms", lambda s: s.quantile(0.95, interpolation="lower")),
        ttft=("ttft_ms", lambda s: s.quantile(0.5, interpolation="lower")))
    over_time = ok.groupby([ok_bucket, ok.provider]).agg(
        n=("latency_ms", "size"), avg=("latency_ms", "mean"), p50=("latency_ms", lambda s: s.quantile(0.5)),
        p95=("latency_ms", lambda s: s.quantile(0.95)), t50=("ttft_ms", lambda s: s.quantile(0.5)),
        t95=("ttft_ms", lambda s: s.quantile(0.95)))
    labels = ok.assign(label=ok.label.fillna("unlabelled")).groupby(["label", "provider", "model"]).size()
    tokens = w.groupby(bucket)[["tokens_in", "tokens_out", "cost_usd"]].sum()
    attempts = w[w.outcome != "cooldown_skip"]
    by_kind = attempts.groupby(["provider", "outcome"]).size()
    failed = attempts[attempts.outcome != "ok"][["request_id", "provider"]].drop_duplicates()
    answered = ok[["request_id", "provider"]].rename(columns={"provider": "answered_by"})
    joined = failed.merge(answered, on="request_id", how="left")
    fallbacks = joined[joined.answered_by.notna() & (joined.answered_by != joined.provider)].groupby("provider").size()
    summary = (w.attempt.eq(1).sum(), w.cost_usd.sum(), ok.latency_ms.median())
    return {"rows_read": len(frame), "latency": latency, "over_time": over_time, "labels": labels, "tokens": tokens,
            "by_kind": by_kind, "fallbacks": fallbacks, "summary": summary}


APPTEST_SCRIPT = '''
import streamlit as st
from core.app.views import charts
from core.store import Store

@st.cache_resource
def store():
    return Store({db!r})     # Store hands out one connection per thread, so caching it is safe

s = store()
since, until = {since!r}, {until!r}
report = s.metrics_report(since, until)
colors = charts.provider_colors(r["provider"] for r in report["error_fallback_rates"])
over_time = report["latency_over_time"]
st.title("Metrics")
st.plotly_chart(charts.latency_percentiles_chart(report["latency_by_provider_model"]), key="lat", theme=None)
st.plotly_chart(charts.latency_over_time_chart(over_time, colors), key="lat_time", theme=None)
st.plotly_chart(charts.ttft_chart(over_time, colors), key="ttft", theme=None)
st.plotly_chart(charts.sunburst_chart(report["requests_by_label_provider_model"], colors), key="sun", theme=None)
st.plotly_chart(charts.tokens_cost_chart(report["tokens_cost_over_time"]), key="tokens", theme=None)
st.plotly_chart(charts.error_rates_chart(report["error_fallback_rates"]), key="errors", theme=None)
st.download_button("Download CSV", lambda: "".join(s.usage_csv(since, until)), file_name="usage.csv")
'''


def apptest_minimal(db: Path, since: float, until: float, runs: int) -> tuple[list[float], int]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string(APPTEST_SCRIPT.format(db=str(db), since=since, until=until), default_timeout=30)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
        if at.exception:
            raise RuntimeError(at.exception[0].message)
    return times, len(at.get("plotly_chart"))


def apptest_real_page(db: Path, runs: int) -> dict[str, list[float]] | None:
    """Home.py → pages/metrics.py (its default range, then "Last 7 days" if it offers that), when the page
    already uses the metrics queries. The page picks its window from the wall clock, so the bench data ends now."""
    page = ROOT / "pages" / "metrics.py"
    source = page.read_text(encoding="utf-8") if page.exists() else ""
    if not any(name in source for name in ("metrics_report", "latency_over_time")):
        return None
    from streamlit.testing.v1 import AppTest

    os.environ["SPACES_OS_DB"] = str(db)
    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=30)
    at.run()
    at.switch_page("pages/metrics.py").run()
    times: dict[str, list[float]] = {}

    def range_box():    # looked up after every run: an element from an earlier run is stale
        return next((b for b in at.selectbox if "Last 7 days" in (b.options or [])), None)

    for choice in (None, "Last 7 days") if range_box() else (None,):
        label = f"{choice or 'its default range'} ({len(at.get('plotly_chart'))} plotly charts)"
        times[label] = []
        for _ in range(runs):
            if choice:
                range_box().select(choice)
            start = time.perf_counter()
            at.run()
            times[label].append(time.perf_counter() - start)
            if at.exception:
                raise RuntimeError(at.exception[0].message)
    return times


def timed(fn: Callable[[], Any], rounds: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def fmt(times: list[float]) -> str:
    """median (first run) in seconds."""
    return f"{statistics.median(times):6.3f} s (first {times[0]:.3f})"


# ---------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 rows")
    parser.add_argument("--rounds", type=int, default=5, help="runs per measurement (median reported)")
    parser.add_argument("--db", type=Path, help="SQLite file (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep --db and reuse it if it has --rows rows")
    parser.add_argument("--no-apptest", action="store_true")
    parser.add_argument("--no-pandas", action="store_true")
    args = parser.parse_args(argv)
    rows = 50_000 if args.quick else args.rows
    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="metrics-bench-")
        args.db = Path(tmp.name) / "usage.db"

    print(f"# Metrics page bench: {rows:,} usage rows · Python {platform.python_version()} · "
          f"SQLite {sqlite3.sqlite_version} · {os.cpu_count()} CPUs · load avg {os.getloadavg()[0]:.1f}")
    existing = Store(args.db).usage_count() if args.db.exists() else 0
    if args.keep and existing == rows:
        # The windows end where the data ends (the real page's ranges end at the wall clock).
        now = Store(args.db).db().conn.execute("SELECT max(ts) FROM usage").fetchone()[0] + 1
        print(f"reusing {args.db} ({existing:,} rows, data ends {(time.time() - now) / 3600:.1f} h ago)")
    else:
        now = time.time()
        if args.db.exists():
            for suffix in ("", "-wal", "-shm"):
                Path(f"{args.db}{suffix}").unlink(missing_ok=True)
        took = fill(args.db, rows, now)
        print(f"fill: {rows:,} rows with Store.bulk_insert_usage in {took:.1f} s ({rows / took:,.0f} rows/s), "
              f"file {args.db.stat().st_size / 1e6:.0f} MB")

    store = Store(args.db)
    results = []
    for name, since in (("7 days (all rows)", now - 7 * DAY), ("last 24 h", now - DAY)):
        in_window = store.db().conn.execute("SELECT count(*) FROM usage WHERE ts >= ? AND ts < ?",
                                            (since, now)).fetchone()[0]
        print(f"\n## window: {name}, {in_window:,} rows (load avg {os.getloadavg()[0]:.1f})")
        q_times, data = timed(lambda since=since: page_data(store, since, now), args.rounds)
        chart_times, _ = timed(lambda data=data: [
            charts.latency_percentiles_chart(data["latency_by_provider_model"]),
            charts.latency_over_time_chart(data["latency_over_time"]), charts.ttft_chart(data["latency_over_time"]),
            charts.sunburst_chart(data["requests_by_label_provider_model"]),
            charts.tokens_cost_chart(data["tokens_cost_over_time"]),
            charts.error_rates_chart(data["error_fallback_rates"])], args.rounds)
        sep_times, _ = timed(lambda since=since: separate_calls(store, since, now), args.rounds)
        home_times, _ = timed(lambda since=since: store.summary(since, now), args.rounds)
        page = statistics.median(q_times)
        charts_s = statistics.median(chart_times)
        print(f"page data (metrics_report + 6 charts): {fmt(q_times)}   of which charts {charts_s:.3f} s")
        print(f"  summary() + the five single queries instead:  {fmt(sep_times)}")
        print(f"  summary() alone (Home's numbers):             {fmt(home_times)}")
        print(f"  {sum(r['n'] for r in data['latency_by_provider_model']):,} answered attempts, "
              f"{len(data['latency_over_time'])} latency cells, {len(data['requests_by_label_provider_model'])} "
              f"sunburst leaves, {sum(r['attempts'] for r in data['error_fallback_rates']):,} attempts")
        result = {"window": name, "rows": in_window, "page": page, "charts": charts_s}
        if not args.no_apptest:
            at_times, n_charts = apptest_minimal(args.db, since, now, args.rounds)
            print(f"AppTest render (minimal script, {n_charts} plotly charts): {fmt(at_times)}")
            result["apptest"] = statistics.median(at_times)
        if not args.no_pandas:
            pd_times, baseline = timed(lambda since=since: pandas_baseline(args.db, since, now), 1)
            print(f"pandas baseline (read_sql_query of {baseline['rows_read']:,} rows + same aggregates): "
                  f"{pd_times[0]:.3f} s")
            result["pandas"] = pd_times[0]
            print(f"ratio pandas / SQL (data only, no charts): {pd_times[0] / max(1e-9, page - charts_s):.1f}x;  "
                  f"(pandas + the same charts) / page: {(pd_times[0] + charts_s) / page:.1f}x")
        verdict = "OK" if page < TARGET_S else "OVER"
        print(f"target < {TARGET_S} s for the page: {verdict}")
        results.append(result)
    if not args.no_apptest:
        real = apptest_real_page(args.db, args.rounds)
        if real is None:
            print("\npages/metrics.py does not call the metrics queries yet: real-page AppTest skipped")
        for label, times in (real or {}).items():
            print(f"\nAppTest Home.py -> pages/metrics.py, {label}: {fmt(times)}")
    store.close()
    if tmp is not None and not args.keep:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
