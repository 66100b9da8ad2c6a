"""Plotly figures for the Metrics page: rows from `Store` metrics queries in, `go.Figure` out.

Pure functions (no Streamlit, no SQL), one look for every chart: the `spaces_os` template, a title
with its unit, the legend under the plot, and a figure that says "No requests in this range yet"
when there is nothing to draw. A provider keeps its colour across charts when the page passes the
same `colors` mapping (see `provider_colors`).

    fig = latency_over_time_chart(store.latency_over_time(since), colors=provider_colors(names))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

EMPTY_MESSAGE = "No requests in this range yet"
PALETTE = ("#2563eb", "#ea580c", "#16a34a", "#9333ea", "#0891b2", "#db2777", "#ca8a04", "#475569")
LABEL_COLORS = {"QUICK": "#0ea5e9", "COMPLEX": "#8b5cf6", "URGENT": "#ef4444", "TOOLS": "#14b8a6",
                "COMPARE": "#f59e0b", "HEALTH": "#84cc16", "unlabelled": "#64748b"}
# What the sunburst's centre ring says for a label (the store calls requests without one "unlabelled").
LABEL_NAMES = {"unlabelled": "no label"}
FAILED_CHAIN_COLOR = "#b91c1c"
ERROR_KIND_COLORS = {
    "rate_limited": "#f59e0b", "auth": "#dc2626", "payment": "#db2777", "bad_request": "#8b5cf6",
    "bad_response": "#14b8a6", "unavailable": "#94a3b8", "timeout": "#ea580c", "stream_error": "#0ea5e9",
}
FALLBACK_COLOR = "#1e3a8a"
Row = Mapping[str, Any]


@cache
def template() -> go.layout.Template:
    """The one chart style: plotly_white, a readable system font, our palette."""
    import plotly.io as pio

    base = go.layout.Template(pio.templates["plotly_white"])
    base.layout.font = {"family": "Inter, 'Source Sans Pro', system-ui, sans-serif", "size": 13, "color": "#1f2937"}
    base.layout.colorway = list(PALETTE)
    base.layout.title = {"x": 0, "xanchor": "left", "font": {"size": 16}}
    # Legend at the bottom of the figure (container coordinates): the plot shrinks to make room, so it
    # never overlaps the x-axis title or the tick labels, however many rows it wraps to.
    base.layout.legend = {"orientation": "h", "yref": "container", "yanchor": "bottom", "y": 0,
                          "xanchor": "left", "x": 0, "traceorder": "normal"}
    base.layout.margin = {"l": 10, "r": 10, "t": 56, "b": 10}
    base.layout.hoverlabel = {"font": {"size": 12}}
    return base


def provider_colors(names: Iterable[str]) -> dict[str, str]:
    """A stable colour per provider: the sorted names take the palette in turn."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(names)))}


def empty_figure(title: str, message: str = EMPTY_MESSAGE, height: int = 320) -> go.Figure:
    """A titled figure with a centred message and no axes, for a range without data."""
    fig = go.Figure(layout={"template": template(), "height": height, "title": {"text": title}})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 15, "color": "#64748b"})
    return fig


def fit_window(span: tuple[float, float] | None, since: float, until: float,
               min_width: float = 600.0) -> tuple[float, float]:
    """The part of the window `since..until` the over-time charts draw: the first to the last usage row
    (`span`, None when there is none) with a little margin, at least `min_width` seconds wide, so a few
    minutes of traffic in a 24 h window show their shape instead of two dots at the right edge.

        fit_window((t0, t0 + 3600), t0 - 86400, t0 + 7200)   # about (t0 - 108, t0 + 3708)
    """
    if span is None:
        return since, until
    first, last = span
    pad = max(last - first, min_width) * 0.03
    low, high = max(since, first - pad), min(until, last + pad)
    if high - low < min_width:
        low = max(since, high - min_width)
        high = min(until, low + min_width)
    return low, high


def _figure(title: str, height: int = 360) -> go.Figure:
    return go.Figure(layout={"template": template(), "height": height, "title": {"text": title}})


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _model_name(model: str | None) -> str:
    return model or "(default model)"


def _colors(rows: Sequence[Row], colors: Mapping[str, str] | None) -> Mapping[str, str]:
    return colors if colors is not None else provider_colors(r["provider"] for r in rows)


# ---------------------------------------------------------------------- latency


def latency_percentiles_chart(rows: Sequence[Row]) -> go.Figure:
    """Horizontal grouped bars per provider · model: p50, p95 and TTFT p50 (ms), from
    `latency_by_provider_model` rows."""
    title = "Latency per provider and model (ms, answered attempts)"
    rows = [r for r in rows if r.get("n")]
    if not rows:
        return empty_figure(title)
    names = [f"{r['provider']} · {_model_name(r['model'])}" for r in rows]
    counts = [[r["n"]] for r in rows]
    fig = _figure(title, height=max(260, 120 + 34 * len(rows)))
    for key, name, color in (("p50_ms", "p50", PALETTE[0]), ("p95_ms", "p95", "#93c5fd"),
                             ("ttft_p50_ms", "TTFT p50", PALETTE[2])):
        fig.add_bar(y=names, x=[r.get(key) for r in rows], name=name, orientation="h", marker_color=color,
                    customdata=counts, hovertemplate=f"%{{y}}<br>{name}: %{{x:,.0f}} ms<br>"
                                                     f"%{{customdata[0]:,}} attempts<extra></extra>")
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(title_text="milliseconds", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


def _percentile_lines(rows: Sequence[Row], keys: tuple[str, str], title: str, y_title: str,
                      colors: Mapping[str, str] | None, window: tuple[float, float] | None = None) -> go.Figure:
    """p50 solid and p95 dashed per provider over time, each point at its bucket's middle; a missing bucket
    leaves a gap. The x axis spans `window` (since, until) when given, else the buckets shown."""
    rows = [r for r in rows if r.get(keys[0]) is not None or r.get(keys[1]) is not None]
    if not rows:
        return empty_figure(title)
    colors = _colors(rows, colors)
    starts = sorted({r["start"] for r in rows})
    ends = {r["start"]: r.get("end", r["start"]) for r in rows}
    x = [_when((s + ends[s]) / 2) for s in starts]
    low, high = window or (starts[0], max(ends.values()))
    by_provider: dict[str, dict[float, Row]] = {}
    for r in rows:
        by_provider.setdefault(r["provider"], {})[r["start"]] = r
    fig = _figure(title)
    for provider in sorted(by_provider):
        cells = by_provider[provider]
        for key, dash, label in ((keys[0], "solid", "p50"), (keys[1], "dash", "p95")):
            fig.add_scatter(
                x=x, y=[cells[s].get(key) if s in cells else None for s in starts], name=f"{provider} {label}",
                legendgroup=provider, mode="lines+markers", connectgaps=False,
                line={"color": colors.get(provider, PALETTE[-1]), "dash": dash, "width": 2},
                marker={"size": 4}, customdata=[[cells[s]["n"] if s in cells else None] for s in starts],
                hovertemplate=f"{provider} {label}: %{{y:,.0f}} ms<br>%{{customdata[0]:,}} answered<extra></extra>")
    fig.update_layout(hovermode="x unified")
    fig.update_xaxes(title_text="time (UTC)", range=[_when(low), _when(high)])
    fig.update_yaxes(title_text=y_title, rangemode="tozero")
    return fig


def latency_over_time_chart(rows: Sequence[Row], colors: Mapping[str, str] | None = None,
                            window: tuple[float, float] | None = None) -> go.Figure:
    """Latency p50 (solid) and p95 (dashed) per provider over time, from `latency_over_time` rows."""
    return _percentile_lines(rows, ("p50_ms", "p95_ms"), "Latency over time: p50 solid, p95 dashed (ms)",
                             "latency (ms)", colors, window)


def ttft_chart(rows: Sequence[Row], colors: Mapping[str, str] | None = None,
               window: tuple[float, float] | None = None) -> go.Figure:
    """Time to first token p50 (solid) and p95 (dashed) per provider over time, from `latency_over_time` rows."""
    return _percentile_lines(rows, ("ttft_p50_ms", "ttft_p95_ms"),
                             "Time to first token: p50 solid, p95 dashed (ms)", "time to first token (ms)", colors,
                             window)


# ---------------------------------------------------------------------- requests, tokens, cost


def _tint(color: str, amount: float) -> str:
    """`color` (#rrggbb) mixed with white; amount 0 keeps it, 1 gives white."""
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in (r, g, b))


def sunburst_chart(rows: Sequence[Row], colors: Mapping[str, str] | None = None) -> go.Figure:
    """Answered requests as label → provider → model rings, from `requests_by_label_provider_model` rows.
    Labels have fixed colours, providers their `colors`, models a lighter shade of their provider's."""
    title = "Answered requests by label → provider → model"
    rows = [r for r in rows if r.get("requests")]
    if not rows:
        return empty_figure(title, height=460)
    colors = _colors(rows, colors)
    totals: dict[str, int] = {}
    parents: dict[str, str] = {}
    names: dict[str, str] = {}
    paths: dict[str, str] = {}
    fills: dict[str, str] = {}
    for r in rows:
        label, provider, model = r["label"], r["provider"], _model_name(r["model"])
        provider_color = colors.get(provider, PALETTE[-1])
        path = [(label, "", LABEL_NAMES.get(label, label), LABEL_COLORS.get(label, PALETTE[-1])),
                (f"{label}/{provider}", label, provider, provider_color),
                (f"{label}/{provider}/{model}", f"{label}/{provider}", model.rsplit("/", 1)[-1],
                 _tint(provider_color, 0.45))]
        for depth, (node_id, parent, name, fill) in enumerate(path):
            totals[node_id] = totals.get(node_id, 0) + r["requests"]
            parents[node_id], names[node_id], fills[node_id] = parent, name, fill
            paths[node_id] = " → ".join((LABEL_NAMES.get(label, label), provider, model)[:depth + 1])
    ids = list(totals)
    fig = _figure(title, height=460)
    fig.add_trace(go.Sunburst(
        ids=ids, labels=[names[i] for i in ids], parents=[parents[i] for i in ids],
        values=[totals[i] for i in ids], branchvalues="total", marker={"colors": [fills[i] for i in ids]},
        customdata=[paths[i] for i in ids], hovertemplate="%{customdata}<br>%{value:,} requests (%{percentRoot:.1%} of all)"
                                      "<extra></extra>",
        insidetextorientation="radial", textinfo="label"))
    # Every slice keeps its name: a smaller font where it must, never a blank slice.
    fig.update_layout(uniformtext={"minsize": 8, "mode": "show"})
    return fig


def tokens_cost_chart(rows: Sequence[Row]) -> go.Figure:
    """Tokens in and out (stacked bars, left axis) and cost in USD (line, right axis) per time bucket,
    from `tokens_cost_over_time` rows."""
    title = "Tokens and cost over time"
    if not any(r.get("attempts") for r in rows):
        return empty_figure(title)
    x = [_when(r["start"]) for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.update_layout(template=template(), height=360, title={"text": title}, barmode="stack",
                      hovermode="x unified")
    fig.add_bar(x=x, y=[r["tokens_in"] for r in rows], name="tokens in", marker_color="#93c5fd",
                hovertemplate="in: %{y:,} tokens<extra></extra>", secondary_y=False)
    fig.add_bar(x=x, y=[r["tokens_out"] for r in rows], name="tokens out", marker_color=PALETTE[0],
                hovertemplate="out: %{y:,} tokens<extra></extra>", secondary_y=False)
    fig.add_scatter(x=x, y=[r["cost_usd"] for r in rows], name="cost (USD)", mode="lines+markers",
                    line={"color": PALETTE[1], "width": 2}, marker={"size": 4},
                    hovertemplate="cost: $%{y:,.4f}<extra></extra>", secondary_y=True)
    fig.update_xaxes(title_text="time (UTC)")
    fig.update_yaxes(title_text="tokens", rangemode="tozero", secondary_y=False)
    fig.update_yaxes(title_text="cost (USD)", tickprefix="$", rangemode="tozero", showgrid=False, tickmode="auto",
                     secondary_y=True)
    return fig


# ---------------------------------------------------------------------- errors


def error_rates_chart(rows: Sequence[Row]) -> go.Figure:
    """Per provider: error rate stacked by error kind (% of attempts, left), and (% of the requests that
    tried it, right) how often it failed and another provider answered (fallback) or no provider answered
    (every provider failed), from `error_fallback_rates` rows."""
    title = "Errors and fallbacks per provider"
    rows = [r for r in rows if r.get("attempts") or r.get("cooldown_skips")]
    if not rows:
        return empty_figure(title)
    providers = [r["provider"] for r in rows]
    # Two-line subplot titles in a smaller font: side by side in half a page they must not run into each other.
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, vertical_spacing=0,
                        subplot_titles=("Error rate by kind<br>(% of attempts)",
                                        "Fallbacks and failed chains<br>(% of requests)"))
    fig.update_annotations(font={"size": 12, "color": "#475569"}, yshift=6)
    fig.update_layout(template=template(), height=420, barmode="stack", margin={"t": 110},
                      title={"text": title, "y": 0.98, "yref": "container", "yanchor": "top"})
    kinds = sorted({k for r in rows for k in r.get("errors_by_kind", {})})
    for kind in kinds:
        counts = [r.get("errors_by_kind", {}).get(kind, 0) for r in rows]
        fig.add_bar(x=providers, y=[100 * c / r["attempts"] if r["attempts"] else 0 for c, r in zip(counts, rows, strict=True)],
                    name=kind.replace("_", " "), marker_color=ERROR_KIND_COLORS.get(kind, PALETTE[-1]),
                    customdata=[[c, r["attempts"]] for c, r in zip(counts, rows, strict=True)],
                    hovertemplate=f"{kind}: %{{y:.1f}}% (%{{customdata[0]:,}} of %{{customdata[1]:,}})<extra></extra>",
                    row=1, col=1)
    if not kinds:   # keep the axis with the providers on it, at 0 %
        fig.add_bar(x=providers, y=[0] * len(rows), name="no errors", marker_color="#cbd5e1", row=1, col=1)
    fig.add_bar(x=providers, y=[100 * r.get("fallback_rate", 0) for r in rows], name="fell back to another provider",
                marker_color=FALLBACK_COLOR,
                customdata=[[r.get("fallbacks", 0), r.get("requests", 0), r.get("cooldown_skips", 0)] for r in rows],
                hovertemplate="%{x}: %{y:.1f}% fell back (%{customdata[0]:,} of %{customdata[1]:,} requests)"
                              "<br>cooldown skips: %{customdata[2]:,}<extra></extra>", row=1, col=2)
    fig.add_bar(x=providers, y=[100 * r.get("failed_chain_rate", 0) for r in rows], name="every provider failed",
                marker_color=FAILED_CHAIN_COLOR,
                customdata=[[r.get("failed_chains", 0), r.get("requests", 0)] for r in rows],
                hovertemplate="%{x}: %{y:.1f}% unanswered: every provider failed (%{customdata[0]:,} of "
                              "%{customdata[1]:,} requests)<extra></extra>", row=1, col=2)
    fig.update_yaxes(ticksuffix="%", rangemode="tozero")
    return fig


FALLBACK_CAPTION = (
    "**Fallback rate** of a provider: of the requests that tried it (answered there, or failed there), the "
    "share where it failed and another provider answered. **Every provider failed**: the share where it failed "
    "and no provider answered (a failed chain: the user got an error). Cooldown skips are not attempts.")
