"""The Metrics page under AppTest with real usage rows: six charts with data, the time-range filter,
and the CSV export of exactly the rows in range."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "Home.py")


@pytest.fixture
def filled(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "spaces_os.db"
    monkeypatch.setenv("SPACES_OS_DB", str(db))
    store = Store(str(db))
    now = time.time()
    rows = []
    for i in range(40):
        ok = i % 5 != 0
        rows.append({"request_id": f"r{i}", "ts": now - 300 * i, "session": "s", "provider": "alpha" if i % 2 else "beta",
                     "model": "m1", "key_source": "shared", "attempt": 1, "outcome": "ok" if ok else "unavailable",
                     "http_status": 200 if ok else 503, "latency_ms": 100 + i, "ttft_ms": 20 + i if ok else None,
                     "tokens_in": 10, "tokens_out": 5, "cost_usd": 0.001, "label": "QUICK"})
    rows.append({"request_id": "old", "ts": now - 3 * 86400, "session": "s", "provider": "alpha", "model": "m1",
                 "key_source": "shared", "attempt": 1, "outcome": "ok", "latency_ms": 5, "tokens_in": 1, "tokens_out": 1,
                 "cost_usd": 0.5, "label": "COMPLEX"})
    store.bulk_insert_usage(rows)
    st.cache_resource.clear()
    yield store
    st.cache_resource.clear()


def test_metrics_page_draws_six_charts_from_sql(filled):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(figures) == 6
    assert all(f.get("data") for f in figures)
    assert {m.label: m.value for m in at.metric}["Requests"] == "40"


def test_time_range_filter_changes_the_numbers(filled):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/metrics.py").run()
    at.selectbox(key="metrics_window").select("Last 7 days").run()
    assert {m.label: m.value for m in at.metric}["Requests"] == "41"
    at.selectbox(key="metrics_window").select("Last hour").run()
    assert {m.label: m.value for m in at.metric}["Requests"] == "12"


def test_csv_export_has_exactly_the_rows_in_range(filled):
    """The page's download builds the CSV from SQL for the selected range (the same call the button makes)."""
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/metrics.py").run()
    assert not at.exception
    assert any(b.proto.label == "Download usage.csv" for b in at.get("download_button"))
    now = time.time()
    csv_text = "".join(filled.usage_csv(now - 86400, now))
    lines = csv_text.strip().splitlines()
    assert "request_id" in lines[0]
    assert len(lines) == 1 + 40 and ",old," not in csv_text
