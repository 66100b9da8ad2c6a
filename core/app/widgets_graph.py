"""Draw the routing graph in Streamlit: streamlit-agraph with a `key`, or Graphviz as the fallback.

streamlit-agraph 0.0.45's `agraph()` takes no `key=` (issues #53/#36), so two graphs on one page
collide and AppTest cannot inject a click. `agraph_keyed` calls the declared component (private
`_agraph`, hence the pin `streamlit-agraph==0.0.45`) with a key; `Config(..., groups={})` avoids
vis-network's "Invalid type received for groups" console errors.

    clicked = render_route_graph_keyed(graph, key="route_graph")   # a node id or None
"""

from __future__ import annotations

import json
from typing import Any

from core.app.views.route_graph import RouteGraph, legend_html, to_agraph, to_dot


def route_graph_legend() -> None:
    """What the graph's shapes and colours mean, under the graph."""
    import streamlit as st

    st.markdown(legend_html(), unsafe_allow_html=True)


def agraph_keyed(nodes: list, edges: list, config: Any, key: str) -> str | None:
    """streamlit_agraph.agraph with a widget key; returns the clicked node id or None."""
    import streamlit_agraph

    if getattr(config, "groups", None) is None:
        config.groups = {}
    data = json.dumps({"nodes": [n.to_dict() for n in nodes], "edges": [e.to_dict() for e in edges]})
    return streamlit_agraph._agraph(data=data, config=json.dumps(config.__dict__), key=key, default=None)


def render_route_graph_keyed(graph: RouteGraph, key: str = "route_graph", *, height: int = 520,
                             width: int = 1000, fallback: bool = False) -> str | None:
    """Draw `graph` with agraph (clicked node id back) or, with `fallback=True` or when agraph cannot be
    imported, with `st.graphviz_chart` (no clicks: returns None)."""
    import streamlit as st

    if not fallback:
        try:
            nodes, edges, config = to_agraph(graph, height=height, width=width)
        except ImportError:
            fallback = True
        else:
            return agraph_keyed(nodes, edges, config, key=key)
    st.graphviz_chart(to_dot(graph), width="stretch")
    return None
