"""The routing graph, Manager → labels → models → providers, as plain node and edge dicts.

Pure: no Streamlit here. `to_agraph` turns a graph into streamlit-agraph objects (imported only
then), `to_dot` into Graphviz DOT for `st.graphviz_chart`; `core/app/widgets_graph.py` draws it.

How it reads: the last decision's path (label → model → provider that answered) is blue and
thicker; a model or provider whose attempt failed in that decision is red (its edges too), unless
the same model answered in the end; providers cooling down are orange, those without a key grey;
every node has a tooltip (`title`) in words.

    graph = build_route_graph(
        [{"name": "openrouter", "kind": "openrouter", "models": ["openai/gpt-4o-mini"], "status": "ready"}],
        {"label": "QUICK", "provider": "openrouter", "model": "openai/gpt-4o-mini"},
        [{"provider": "openrouter", "model": "openai/gpt-4o-mini", "outcome": "ok"}])
    graph.node("model:openrouter/openai/gpt-4o-mini")["color"]   # the path colour
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LABELS = ("QUICK", "COMPLEX", "URGENT")
MAX_MODELS_PER_PROVIDER = 6
# Left to right, one column per level. A dot or diamond carries its label below it, so two nodes of one
# column need their radius, the label's line and a gap between them: NODE_SPACING covers the largest.
FONT_SIZE = 14
LABEL_GAP = 6
NODE_SPACING = 96
LEVEL_SEPARATION = 240

MANAGER_COLOR = "#1f2937"
PATH_COLOR = "#2563eb"
FAILED_COLOR = "#dc2626"
EDGE_COLOR = "#cbd5e1"
MODEL_COLOR = "#e2e8f0"
MORE_COLOR = "#f1f5f9"
LABEL_COLORS = {"QUICK": "#0ea5e9", "COMPLEX": "#8b5cf6", "URGENT": "#ef4444"}
# status -> (colour, words for the tooltip)
STATUS_STYLES = {
    "ready": ("#16a34a", "ready"),
    "healthy": ("#16a34a", "ready"),
    "cooldown": ("#f59e0b", "cooling down after repeated failures: skipped until the cooldown ends"),
    "half_open": ("#fb923c", "probing after a cooldown: one request may go through"),
    "no key": ("#9ca3af", "no key: add one on the Providers page"),
    "no_key": ("#9ca3af", "no key: add one on the Providers page"),
    "demo": ("#a78bfa", "offline demo model"),
}
UNKNOWN_STATUS = ("#64748b", "status unknown")
# What each mark means, in the order the legend shows it: (shape, colour, words).
LEGEND = (("diamond", LABEL_COLORS["QUICK"], "label (how the manager classified the request)"),
          ("dot", MODEL_COLOR, "model"),
          ("box", STATUS_STYLES["ready"][0], "provider"),
          ("line", PATH_COLOR, "the last decision's path"),
          ("dot", FAILED_COLOR, "failed in the last decision"),
          ("box", STATUS_STYLES["cooldown"][0], "cooling down"),
          ("box", STATUS_STYLES["no key"][0], "no key"))
NOT_FAILURES = ("ok", "cooldown_skip")


@dataclass
class RouteGraph:
    nodes: list[dict[str, Any]] = field(default_factory=list)   # id, label, color, size, shape, title, level
    edges: list[dict[str, Any]] = field(default_factory=list)   # source, target, color, width, title

    def node(self, node_id: str) -> dict[str, Any]:
        return next(n for n in self.nodes if n["id"] == node_id)

    def edge(self, source: str, target: str) -> dict[str, Any]:
        return next(e for e in self.edges if e["source"] == source and e["target"] == target)


def model_id(provider: str, model: str | None) -> str:
    return f"model:{provider}/{model or ''}"


def _short(model: str | None) -> str:
    """The part after the last '/', so 'meta-llama/Llama-3.1-8B-Instruct' fits in a node."""
    return model.rsplit("/", 1)[-1] if model else "default model"


class _Builder:
    def __init__(self) -> None:
        self.graph = RouteGraph()
        self._nodes: dict[str, dict[str, Any]] = {}
        self._edges: dict[tuple[str, str], dict[str, Any]] = {}

    def node(self, node_id: str, **attrs: Any) -> dict[str, Any]:
        if node_id not in self._nodes:
            self._nodes[node_id] = {"id": node_id, **attrs}
            self.graph.nodes.append(self._nodes[node_id])
        return self._nodes[node_id]

    def edge(self, source: str, target: str, title: str = "") -> dict[str, Any]:
        if (source, target) not in self._edges:
            self._edges[(source, target)] = {"source": source, "target": target, "color": EDGE_COLOR,
                                             "width": 1.5, "title": title}
            self.graph.edges.append(self._edges[(source, target)])
        return self._edges[(source, target)]


def build_route_graph(providers: Sequence[Mapping[str, Any]], decision: Mapping[str, Any] | None = None,
                      attempts: Sequence[Mapping[str, Any]] | None = None, *,
                      routes: Mapping[str, Mapping[str, str]] | None = None,
                      labels: Iterable[str] = LABELS,
                      max_models: int = MAX_MODELS_PER_PROVIDER) -> RouteGraph:
    """The graph for the Routing page.

    providers: [{name, kind, models, status}] (status: ready | cooldown | half_open | no key | demo, optional
        `detail` for the tooltip). decision: {label, provider, model} of the last routed request, or None.
    attempts: that request's attempts [{provider, model, outcome}] (default: decision["attempts"]).
    routes: {label: {provider: model}} (RoutingRules.models_for per label) for the grey label → model edges;
        without it only the decision's label is connected to models.
    """
    decision = dict(decision or {})
    attempts = list(attempts if attempts is not None else decision.get("attempts") or [])
    b = _Builder()
    b.node("manager", label="Manager", color=MANAGER_COLOR, size=30, shape="box", level=0,
           title="Manager: classifies each request, then routes it by label",
           font={"color": "#ffffff"})
    label_names = list(dict.fromkeys([*labels, *(routes or {}), *([decision["label"]] if decision.get("label") else [])]))
    for label in label_names:
        b.node(f"label:{label}", label=label, color=LABEL_COLORS.get(label, "#64748b"), size=22, shape="diamond",
               level=1, title=f"Label {label}")
        b.edge("manager", f"label:{label}", f"classified {label}")

    # Providers and the models they offer.
    by_name = {p["name"]: p for p in providers}
    wanted: dict[str, list[str | None]] = {p["name"]: [] for p in providers}
    for label_routes in (routes or {}).values():
        for provider, model in label_routes.items():
            wanted.setdefault(provider, []).append(model)
    for a in attempts:
        wanted.setdefault(a["provider"], []).append(a.get("model"))
    if decision.get("provider"):
        wanted.setdefault(decision["provider"], []).append(decision.get("model"))
    for name, needed in wanted.items():
        info = by_name.get(name, {"name": name, "status": None})
        color, words = STATUS_STYLES.get(info.get("status") or "", UNKNOWN_STATUS)
        if info.get("status") and (info.get("status") or "") not in STATUS_STYLES:
            words = str(info["status"])
        kind = f" ({info['kind']})" if info.get("kind") else ""
        detail = f" · {info['detail']}" if info.get("detail") else ""
        b.node(f"provider:{name}", label=name, color=color, size=24, shape="box", level=3,
               title=f"{name}{kind}: {words}{detail}", status=info.get("status"))
        offered = list(dict.fromkeys([*needed, *(info.get("models") or [])]))
        shown = offered[:max(max_models, len(dict.fromkeys(needed)))]
        for model in shown:
            b.node(model_id(name, model), label=_short(model), color=MODEL_COLOR, size=16, shape="dot", level=2,
                   title=f"{name} · {model or 'default model'}")
            b.edge(model_id(name, model), f"provider:{name}", f"served by {name}")
        if len(offered) > len(shown):
            more = len(offered) - len(shown)
            b.node(f"more:{name}", label=f"+{more} more", color=MORE_COLOR, size=10, shape="dot", level=2,
                   title=f"{name} offers {more} more models")
            b.edge(f"more:{name}", f"provider:{name}")

    for label, label_routes in (routes or {}).items():
        for provider, model in label_routes.items():
            b.edge(f"label:{label}", model_id(provider, model), f"{label} → {model}")

    _mark_decision(b, decision, attempts)
    return b.graph


def _mark_decision(b: _Builder, decision: Mapping[str, Any], attempts: Sequence[Mapping[str, Any]]) -> None:
    label = decision.get("label")
    answered = (decision["provider"], decision.get("model")) if decision.get("provider") else None
    failures: dict[tuple[str, str | None], list[str]] = {}
    for a in attempts:
        if a.get("outcome") not in NOT_FAILURES:
            failures.setdefault((a["provider"], a.get("model")), []).append(str(a.get("outcome")))
    for a in attempts:
        if a.get("outcome") == "cooldown_skip" and f"provider:{a['provider']}" in b._nodes:
            b._nodes[f"provider:{a['provider']}"]["title"] += " · skipped in the last decision (cooling down)"
    for (provider, model), outcomes in failures.items():
        model_node, provider_node = b._nodes[model_id(provider, model)], b._nodes[f"provider:{provider}"]
        what = ", ".join(outcomes)
        model_node["title"] += f" · failed in the last decision: {what}"
        provider_node["title"] += f" · failed in the last decision: {what}"
        if (provider, model) == answered:
            continue        # retried and then answered: the path colour wins
        model_node.update(color=FAILED_COLOR)
        if not answered or answered[0] != provider:
            provider_node.update(color=FAILED_COLOR)
        b.edge(model_id(provider, model), f"provider:{provider}").update(color=FAILED_COLOR, width=3,
                                                                       title=f"failed: {what}")
        if label:
            b.edge(f"label:{label}", model_id(provider, model)).update(color=FAILED_COLOR, width=3,
                                                                      title=f"tried first, failed: {what}")
    if label:
        b._nodes[f"label:{label}"].update(size=30, title=f"Label {label} · the last decision")
        b.edge("manager", f"label:{label}").update(color=PATH_COLOR, width=4)
    if answered:
        provider, model = answered
        b._nodes[model_id(provider, model)].update(color=PATH_COLOR, size=24)
        b._nodes[model_id(provider, model)]["title"] += " · answered the last decision"
        b._nodes[f"provider:{provider}"]["title"] += " · answered the last decision"
        b._nodes[f"provider:{provider}"]["size"] = 30
        b.edge(model_id(provider, model), f"provider:{provider}").update(color=PATH_COLOR, width=4,
                                                                       title="answered")
        if label:
            b.edge(f"label:{label}", model_id(provider, model)).update(color=PATH_COLOR, width=4,
                                                                      title=f"{label} → {model}")


# ---------------------------------------------------------------------- renderers


def to_agraph(graph: RouteGraph, *, height: int = 460, width: int = 1000) -> tuple[list, list, Any]:
    """streamlit-agraph (nodes, edges, config): left-to-right levels, no physics, `groups={}` (see reference)."""
    from streamlit_agraph import Config, Edge, Node

    nodes = [Node(**{k: v for k, v in n.items() if k != "status"}) for n in graph.nodes]
    edges = [Edge(source=e["source"], target=e["target"], color=e["color"], width=e["width"],
                  title=e.get("title") or None) for e in graph.edges]
    config = Config(height=height, width=width, directed=True, physics=False, hierarchical=True,
                    direction="LR", sortMethod="directed", levelSeparation=LEVEL_SEPARATION,
                    nodeSpacing=NODE_SPACING, groups={}, nodes={"font": {"size": FONT_SIZE}},
                    interaction={"hover": True, "dragNodes": True, "zoomView": False})
    config.width = "100%"           # the column's width: a fixed width is clipped in a narrow column
    # Config also copies every keyword to the top level, where vis-network logs "Unknown option detected":
    # keep only the options vis-network knows (the layout ones already sit under layout.hierarchical).
    for name in [k for k in vars(config) if k not in VIS_OPTIONS]:
        delattr(config, name)
    return nodes, edges, config


# Top-level vis-network options (https://visjs.github.io/vis-network/docs/network/#options), plus the size.
VIS_OPTIONS = frozenset({"height", "width", "autoResize", "locale", "clickToUse", "configure", "edges", "nodes",
                         "groups", "layout", "interaction", "manipulation", "physics"})


def vertical_extent(node: Mapping[str, Any]) -> tuple[float, float]:
    """How far a node reaches above and below its centre, in px, with its label (below a dot or diamond,
    inside a box). Two nodes of one column do not overlap when the sum of these stays within NODE_SPACING."""
    line = FONT_SIZE + 2
    if node.get("shape") == "box":
        return line / 2 + 6, line / 2 + 6
    return node.get("size", 25), node.get("size", 25) + LABEL_GAP + line


def legend_html(legend: Sequence[tuple[str, str, str]] = LEGEND) -> str:
    """The legend as one line of small swatches (inline HTML for `st.markdown(..., unsafe_allow_html=True)`)."""
    shapes = {"dot": "border-radius:50%", "diamond": "transform:rotate(45deg);width:10px;height:10px",
              "box": "border-radius:3px;width:18px", "line": "height:4px;width:22px;border-radius:2px"}
    items = []
    for shape, color, words in legend:
        swatch = (f'<span style="display:inline-block;width:12px;height:12px;background:{color};'
                  f'{shapes[shape]};margin-right:6px;vertical-align:middle;border:1px solid #94a3b8"></span>')
        items.append(f'<span style="margin-right:18px;white-space:nowrap">{swatch}{words}</span>')
    return f'<div style="font-size:0.85rem;color:#475569;line-height:2">{"".join(items)}</div>'


def node_words(node_id: str) -> str:
    """A clicked node in words: 'label QUICK', 'model openai/gpt-4o-mini on openrouter', 'provider hf'."""
    kind, _, rest = node_id.partition(":")
    if kind == "label":
        return f"label {rest}"
    if kind == "model":
        provider, _, model = rest.partition("/")
        return f"model {model or 'default model'} on {provider}"
    if kind in ("provider", "more"):
        return f"provider {rest}"
    return "every task"


_DOT_SHAPES = {"box": "box", "diamond": "diamond", "dot": "ellipse"}


def _quote(text: Any) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _font_on(color: str) -> str:
    r, g, b = (int(color[i:i + 2], 16) for i in (1, 3, 5))
    return "#ffffff" if 0.299 * r + 0.587 * g + 0.114 * b < 140 else "#111827"


def to_dot(graph: RouteGraph) -> str:
    """Graphviz DOT for `st.graphviz_chart`: the same nodes, colours and tooltips, levels as columns."""
    lines = ["digraph route {", '  rankdir=LR; bgcolor="transparent"; nodesep=0.25; ranksep=0.9;',
             '  node [style="filled", fontname="Helvetica", fontsize=11, penwidth=0];',
             '  edge [arrowsize=0.6];']
    for n in graph.nodes:
        shape = _DOT_SHAPES.get(n.get("shape", "dot"), "ellipse")
        lines.append(f"  {_quote(n['id'])} [label={_quote(n.get('label', n['id']))}, shape={shape}, "
                     f"fillcolor={_quote(n['color'])}, fontcolor={_quote(_font_on(n['color']))}, "
                     f"tooltip={_quote(n.get('title', ''))}];")
    levels: dict[int, list[str]] = {}
    for n in graph.nodes:
        levels.setdefault(n.get("level", 0), []).append(_quote(n["id"]))
    for level in sorted(levels):
        lines.append(f"  {{ rank=same; {'; '.join(levels[level])}; }}")
    for e in graph.edges:
        lines.append(f"  {_quote(e['source'])} -> {_quote(e['target'])} [color={_quote(e['color'])}, "
                     f"penwidth={e['width']:g}, tooltip={_quote(e.get('title') or '')}];")
    lines.append("}")
    return "\n".join(lines)
