"""Chart builders: the figure data (trace types, x/y values, labels, axes), never pixels."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import plotly.graph_objects as go
import pytest

from core.app.views import charts

T0 = 1_700_000_000.0


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


@pytest.mark.parametrize("build", [
    lambda: charts.latency_percentiles_chart([]),
    lambda: charts.latency_over_time_chart([]),
    lambda: charts.ttft_chart([{"start": T0, "end": T0 + 1, "provider": "a", "n": 3, "ttft_p50_ms": None,
                                "ttft_p95_ms": None}]),
    lambda: charts.sunburst_chart([]),
    lambda: charts.tokens_cost_chart([{"start": T0, "end": T0 + 1, "tokens_in": 0, "tokens_out": 0,
                                       "cost_usd": 0.0, "attempts": 0, "ok": 0}]),
    lambda: charts.error_rates_chart([]),
])
def test_empty_ranges_say_so_instead_of_drawing_empty_axes(build):
    fig = build()
    assert len(fig.data) == 0
    assert annotation_texts(fig) == [charts.EMPTY_MESSAGE]
    assert fig.layout.xaxis.visible is False and fig.layout.title.text
    json.loads(fig.to_json())     # serialisable as st.plotly_chart needs it


def test_latency_percentiles_are_grouped_horizontal_bars_per_provider_model():
    rows = [{"provider": "hf", "model": "meta-llama/Llama-3.1-8B", "n": 20, "p50_ms": 10.0, "p95_ms": 19.0,
             "ttft_p50_ms": 3.0},
            {"provider": "or", "model": None, "n": 4, "p50_ms": 3.0, "p95_ms": 5.0, "ttft_p50_ms": None}]

    fig = charts.latency_percentiles_chart(rows)

    assert [t.type for t in fig.data] == ["bar", "bar", "bar"]
    assert [t.name for t in fig.data] == ["p50", "p95", "TTFT p50"]
    assert all(t.orientation == "h" for t in fig.data)
    assert list(fig.data[0].y) == ["hf · meta-llama/Llama-3.1-8B", "or · (default model)"]
    assert list(fig.data[0].x) == [10.0, 3.0] and list(fig.data[1].x) == [19.0, 5.0]
    assert list(fig.data[2].x) == [3.0, None]
    assert fig.layout.barmode == "group" and "ms" in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "milliseconds"


def over_time_rows():
    return [
        {"start": T0, "end": T0 + 60, "provider": "hf", "n": 5, "p50_ms": 100.0, "p95_ms": 200.0,
         "ttft_p50_ms": 20.0, "ttft_p95_ms": 40.0},
        {"start": T0 + 60, "end": T0 + 120, "provider": "hf", "n": 2, "p50_ms": 110.0, "p95_ms": 210.0,
         "ttft_p50_ms": 21.0, "ttft_p95_ms": 41.0},
        {"start": T0 + 60, "end": T0 + 120, "provider": "or", "n": 1, "p50_ms": 50.0, "p95_ms": 60.0,
         "ttft_p50_ms": None, "ttft_p95_ms": None},
    ]


def test_latency_over_time_has_solid_p50_and_dashed_p95_per_provider_with_gaps():
    colors = {"hf": "#111111", "or": "#222222"}

    fig = charts.latency_over_time_chart(over_time_rows(), colors)

    assert [(t.type, t.name, t.line.dash) for t in fig.data] == [
        ("scatter", "hf p50", "solid"), ("scatter", "hf p95", "dash"),
        ("scatter", "or p50", "solid"), ("scatter", "or p95", "dash")]
    # Points sit at their bucket's middle; the axis spans the buckets (or the page's window when given).
    assert list(fig.data[0].x) == [datetime.fromtimestamp(T0 + 30, UTC), datetime.fromtimestamp(T0 + 90, UTC)]
    assert list(fig.layout.xaxis.range) == [datetime.fromtimestamp(T0, UTC), datetime.fromtimestamp(T0 + 120, UTC)]
    windowed = charts.latency_over_time_chart(over_time_rows(), colors, window=(T0 - 600, T0 + 600))
    assert list(windowed.layout.xaxis.range) == [datetime.fromtimestamp(T0 - 600, UTC),
                                                 datetime.fromtimestamp(T0 + 600, UTC)]
    assert list(fig.data[0].y) == [100.0, 110.0] and list(fig.data[1].y) == [200.0, 210.0]
    assert list(fig.data[2].y) == [None, 50.0]          # no bucket for "or" at T0: a gap, not a zero
    assert fig.data[0].line.color == fig.data[1].line.color == "#111111"
    assert fig.data[2].legendgroup == fig.data[3].legendgroup == "or"
    assert fig.layout.yaxis.title.text == "latency (ms)" and fig.layout.xaxis.title.text == "time (UTC)"


def test_ttft_chart_uses_the_ttft_columns_and_skips_providers_without_ttft():
    fig = charts.ttft_chart(over_time_rows())

    assert [t.name for t in fig.data] == ["hf p50", "hf p95"]
    assert list(fig.data[0].y) == [20.0, 21.0] and list(fig.data[1].y) == [40.0, 41.0]
    assert "first token" in fig.layout.title.text


def test_sunburst_rings_sum_label_provider_model_counts():
    rows = [{"label": "QUICK", "provider": "hf", "model": "m1", "requests": 3},
            {"label": "QUICK", "provider": "hf", "model": "m2", "requests": 2},
            {"label": "QUICK", "provider": "or", "model": "m1", "requests": 4},
            {"label": "unlabelled", "provider": "hf", "model": None, "requests": 1}]

    fig = charts.sunburst_chart(rows)

    (sun,) = fig.data
    assert sun.type == "sunburst" and sun.branchvalues == "total"
    values = dict(zip(sun.ids, sun.values, strict=True))
    parents = dict(zip(sun.ids, sun.parents, strict=True))
    assert values["QUICK"] == 9 and values["QUICK/hf"] == 5 and values["QUICK/hf/m1"] == 3
    assert values["unlabelled/hf/(default model)"] == 1
    assert parents["QUICK"] == "" and parents["QUICK/or"] == "QUICK" and parents["QUICK/or/m1"] == "QUICK/or"
    assert dict(zip(sun.ids, sun.labels, strict=True))["QUICK/or/m1"] == "m1"
    assert dict(zip(sun.ids, sun.marker.colors, strict=True))["QUICK"] == charts.LABEL_COLORS["QUICK"]


def test_tokens_cost_stacks_tokens_and_puts_cost_on_a_second_axis():
    rows = [{"start": T0, "end": T0 + 60, "tokens_in": 10, "tokens_out": 5, "cost_usd": 0.5, "attempts": 2, "ok": 2},
            {"start": T0 + 60, "end": T0 + 120, "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, "attempts": 0,
             "ok": 0}]

    fig = charts.tokens_cost_chart(rows)

    assert [(t.type, t.name) for t in fig.data] == [("bar", "tokens in"), ("bar", "tokens out"),
                                                    ("scatter", "cost (USD)")]
    assert list(fig.data[0].y) == [10, 0] and list(fig.data[1].y) == [5, 0] and list(fig.data[2].y) == [0.5, 0.0]
    assert fig.data[2].yaxis == "y2" and fig.data[0].yaxis == "y"
    assert fig.layout.barmode == "stack"
    assert fig.layout.yaxis.title.text == "tokens" and fig.layout.yaxis2.title.text == "cost (USD)"


def test_error_chart_stacks_error_kinds_as_percent_and_shows_fallback_rate():
    rows = [{"provider": "A", "attempts": 8, "ok": 5, "errors": 3, "errors_by_kind": {"timeout": 2, "auth": 1},
             "error_rate": 3 / 8, "cooldown_skips": 1, "requests": 5, "fallbacks": 2, "fallback_rate": 0.4},
            {"provider": "B", "attempts": 4, "ok": 4, "errors": 0, "errors_by_kind": {}, "error_rate": 0.0,
             "cooldown_skips": 0, "requests": 4, "fallbacks": 0, "fallback_rate": 0.0}]

    fig = charts.error_rates_chart(rows)

    assert [(t.type, t.name) for t in fig.data] == [("bar", "auth"), ("bar", "timeout"),
                                                    ("bar", "fell back to another provider"),
                                                    ("bar", "every provider failed")]
    assert list(fig.data[0].x) == ["A", "B"]
    assert list(fig.data[0].y) == [12.5, 0] and list(fig.data[1].y) == [25.0, 0]
    assert list(fig.data[2].y) == [40.0, 0.0] and fig.data[2].xaxis == "x2"
    assert fig.layout.barmode == "stack" and fig.layout.yaxis.ticksuffix == "%"
    assert annotation_texts(fig) == ["Error rate by kind<br>(% of attempts)",
                                     "Fallbacks and failed chains<br>(% of requests)"]


def test_provider_colours_are_stable_whatever_the_order():
    assert charts.provider_colors(["b", "a", "b"]) == charts.provider_colors(["a", "b"]) == {
        "a": charts.PALETTE[0], "b": charts.PALETTE[1]}


def test_every_chart_uses_the_one_template():
    figs = [charts.latency_percentiles_chart([{"provider": "a", "model": "m", "n": 1, "p50_ms": 1, "p95_ms": 1,
                                               "ttft_p50_ms": 1}]),
            charts.latency_over_time_chart(over_time_rows()), charts.empty_figure("x")]
    fonts = {f.layout.template.layout.font.family for f in figs}
    assert fonts == {charts.template().layout.font.family}
    assert {f.layout.template.layout.legend.orientation for f in figs} == {"h"}
