"""Metrics: latency, TTFT, requests by label/provider/model, tokens and cost, errors and fallbacks.

Every figure is aggregated in SQL (core/store/metrics.py) and drawn by a pure builder (core/app/views/charts.py).
"""

import time

import streamlit as st

from core.app.views import charts
from core.app.views.home import error_rate_text
from core.app.widgets import require_services, session_context

WINDOWS = {"Last hour": 3600, "Last 24 hours": 86400, "Last 7 days": 7 * 86400, "Last 30 days": 30 * 86400}

svc = require_services(needs_router=False)   # the usage rows need no provider
ctx = session_context(svc)
store = svc.store
st.title("📈 Metrics")
st.caption("Every provider attempt the router made, aggregated in the database. Percentiles are over "
           "successful attempts.")

c1, c2 = st.columns([2, 3])
window = c1.selectbox("Time range", list(WINDOWS), index=1, key="metrics_window")
until = time.time()
since = until - WINDOWS[window]

# The over-time charts span the traffic in the range, not the whole range: a shape instead of two dots.
chart_since, chart_until = charts.fit_window(store.activity_span(since, until), since, until)
report = store.metrics_report(chart_since, chart_until)   # every aggregate in one pass, in SQL; same rows
summary = report["summary"]
m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Requests", f"{summary['requests']:,}")
m2.metric("Attempts", f"{summary['attempts']:,}")
m3.metric("Cost", f"${summary['cost_usd']:.4f}")
median = summary["median_latency_ms"]
m4.metric("Median latency", f"{median:,.0f} ms" if median is not None else "—")
m5.metric("Error rate", error_rate_text(summary))

latency, over_time = report["latency_by_provider_model"], report["latency_over_time"]
colors = charts.provider_colors(sorted({r["provider"] for r in latency} | {r["provider"] for r in over_time}))
figures = [
    ("chart_latency", charts.latency_percentiles_chart(latency)),
    ("chart_latency_time", charts.latency_over_time_chart(over_time, colors=colors, window=(chart_since, chart_until))),
    ("chart_ttft", charts.ttft_chart(over_time, colors=colors, window=(chart_since, chart_until))),
    ("chart_sunburst", charts.sunburst_chart(report["requests_by_label_provider_model"], colors=colors)),
    ("chart_tokens", charts.tokens_cost_chart(report["tokens_cost_over_time"])),
    ("chart_errors", charts.error_rates_chart(report["error_fallback_rates"])),
]
for row in range(0, len(figures), 2):
    for column, (key, figure) in zip(st.columns(2), figures[row:row + 2], strict=True):
        column.plotly_chart(figure, key=key, width="stretch", theme=None)
        if key == "chart_errors":
            column.caption(charts.FALLBACK_CAPTION)

st.subheader("Export")
st.caption("The raw usage rows of this time range, one per provider attempt (no keys are ever stored). "
           + ("" if ctx.operator else "Only your own requests. ") + "The file is built when you click.")
mine = None if ctx.operator else ctx.session_hash
st.download_button("Download usage.csv", data=lambda: "".join(store.usage_csv(since, until, session=mine)),
                   file_name=f"usage-{time.strftime('%Y%m%d-%H%M', time.localtime(since))}.csv", mime="text/csv",
                   key="metrics_csv_download")
