"""The routing graph: ids, the highlighted path, failed attempts in red, cooldown colours, agraph and DOT."""

from __future__ import annotations

import json
import re

from core.app.views import route_graph as rg
from core.app.views.route_graph import build_route_graph, to_agraph, to_dot

PROVIDERS = [
    {"name": "openrouter", "kind": "openrouter", "models": ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4"],
     "status": "ready"},
    {"name": "huggingface", "kind": "huggingface", "models": ["meta-llama/Llama-3.1-8B-Instruct"],
     "status": "cooldown", "detail": "12 s left"},
    {"name": "local", "kind": "openai_compatible", "models": ["llama3"], "status": "no key"},
]
DECISION = {"label": "QUICK", "provider": "openrouter", "model": "openai/gpt-4o-mini"}
ATTEMPTS = [{"provider": "huggingface", "model": "meta-llama/Llama-3.1-8B-Instruct", "outcome": "timeout"},
            {"provider": "openrouter", "model": "openai/gpt-4o-mini", "outcome": "ok"}]
OR_MINI = "model:openrouter/openai/gpt-4o-mini"
HF_LLAMA = "model:huggingface/meta-llama/Llama-3.1-8B-Instruct"


def test_graph_has_manager_labels_models_and_providers_with_levels():
    g = build_route_graph(PROVIDERS, None, [])

    ids = {n["id"]: n for n in g.nodes}
    assert {"manager", "label:QUICK", "label:COMPLEX", "label:URGENT", OR_MINI, HF_LLAMA,
            "model:openrouter/anthropic/claude-sonnet-4", "model:local/llama3", "provider:openrouter",
            "provider:huggingface", "provider:local"} == set(ids)
    assert {ids["manager"]["level"], ids["label:QUICK"]["level"], ids[OR_MINI]["level"],
            ids["provider:local"]["level"]} == {0, 1, 2, 3}
    assert ids[OR_MINI]["label"] == "gpt-4o-mini"          # short name in the node, full name in the tooltip
    assert "openai/gpt-4o-mini" in ids[OR_MINI]["title"]
    assert all(set(n) >= {"id", "label", "color", "size", "shape", "title"} for n in g.nodes)
    assert g.edge(OR_MINI, "provider:openrouter")["color"] == rg.EDGE_COLOR
    assert g.edge("manager", "label:URGENT")
    # No decision: nothing is highlighted or red.
    assert not [e for e in g.edges if e["color"] in (rg.PATH_COLOR, rg.FAILED_COLOR)]


def test_last_decision_path_is_highlighted_and_failed_attempt_is_red():
    g = build_route_graph(PROVIDERS, DECISION, ATTEMPTS)

    for source, target in [("manager", "label:QUICK"), ("label:QUICK", OR_MINI), (OR_MINI, "provider:openrouter")]:
        edge = g.edge(source, target)
        assert (edge["color"], edge["width"]) == (rg.PATH_COLOR, 4)
    assert g.node(OR_MINI)["color"] == rg.PATH_COLOR
    assert g.node("provider:openrouter")["color"] == rg.STATUS_STYLES["ready"][0]    # status colour kept
    assert g.node(HF_LLAMA)["color"] == rg.FAILED_COLOR
    assert g.node("provider:huggingface")["color"] == rg.FAILED_COLOR
    assert g.edge(HF_LLAMA, "provider:huggingface")["color"] == rg.FAILED_COLOR
    assert g.edge("label:QUICK", HF_LLAMA)["color"] == rg.FAILED_COLOR
    assert "timeout" in g.node(HF_LLAMA)["title"]
    # Other labels' edges stay plain.
    assert g.edge("manager", "label:COMPLEX")["color"] == rg.EDGE_COLOR


def test_provider_status_colours_and_tooltips():
    g = build_route_graph(PROVIDERS, None, [])

    hf, local = g.node("provider:huggingface"), g.node("provider:local")
    assert hf["color"] == rg.STATUS_STYLES["cooldown"][0]
    assert "cooling down" in hf["title"] and "12 s left" in hf["title"]
    assert local["color"] == rg.STATUS_STYLES["no key"][0] and "Providers page" in local["title"]
    assert g.node("provider:openrouter")["color"] == rg.STATUS_STYLES["ready"][0]


def test_retry_that_answered_stays_on_the_path_not_red():
    attempts = [{"provider": "openrouter", "model": "openai/gpt-4o-mini", "outcome": "rate_limited"},
                {"provider": "openrouter", "model": "openai/gpt-4o-mini", "outcome": "ok"}]

    g = build_route_graph(PROVIDERS, {**DECISION, "attempts": attempts})    # attempts taken from the decision

    assert g.node(OR_MINI)["color"] == rg.PATH_COLOR
    assert g.edge(OR_MINI, "provider:openrouter")["color"] == rg.PATH_COLOR
    assert "rate_limited" in g.node(OR_MINI)["title"]


def test_routes_connect_each_label_to_its_models_and_unknown_models_appear():
    routes = {"QUICK": {"openrouter": "openai/gpt-4o-mini"}, "COMPLEX": {"openrouter": "openai/gpt-4o"}}

    g = build_route_graph(PROVIDERS, None, [], routes=routes)

    assert g.edge("label:QUICK", OR_MINI)
    assert g.edge("label:COMPLEX", "model:openrouter/openai/gpt-4o")
    assert g.edge("model:openrouter/openai/gpt-4o", "provider:openrouter")
    assert not [e for e in g.edges if e["source"] == "label:URGENT"]


def test_long_model_lists_are_capped_with_a_more_node():
    many = [{"name": "hf", "kind": "huggingface", "models": [f"org/m{i}" for i in range(10)], "status": "ready"}]

    g = build_route_graph(many, {"label": "QUICK", "provider": "hf", "model": "org/m9"}, [], max_models=3)

    models = [n["id"] for n in g.nodes if n["id"].startswith("model:")]
    assert "model:hf/org/m9" in models and len(models) == 3
    assert g.node("more:hf")["label"] == "+7 more"


def test_to_agraph_builds_component_objects_with_groups_config():
    nodes, edges, config = to_agraph(build_route_graph(PROVIDERS, DECISION, ATTEMPTS))

    assert {n.id for n in nodes} >= {"manager", OR_MINI}
    assert config.groups == {} and config.physics["enabled"] is False
    assert config.layout["hierarchical"]["enabled"] is True and config.layout["hierarchical"]["direction"] == "LR"
    data = json.loads(json.dumps({"nodes": [n.to_dict() for n in nodes], "edges": [e.to_dict() for e in edges]}))
    path = next(e for e in data["edges"] if e["from"] == OR_MINI and e["to"] == "provider:openrouter")
    assert (path["color"], path["width"]) == (rg.PATH_COLOR, 4)
    assert "status" not in data["nodes"][0]


def test_to_dot_is_valid_looking_graphviz_with_colours_and_escaping():
    providers = [*PROVIDERS, {"name": 'we"ird', "kind": "x", "models": ["a\\b"], "status": "ready"}]

    dot = to_dot(build_route_graph(providers, DECISION, ATTEMPTS))

    assert dot.startswith("digraph route {") and dot.rstrip().endswith("}")
    assert "rankdir=LR" in dot
    assert f'"{OR_MINI}" -> "provider:openrouter" [color="{rg.PATH_COLOR}", penwidth=4' in dot
    assert f'"{HF_LLAMA}" [label="Llama-3.1-8B-Instruct", shape=ellipse, fillcolor="{rg.FAILED_COLOR}"' in dot
    assert '"provider:we\\"ird"' in dot and 'label="a\\\\b"' in dot
    assert len(re.findall(r" -> ", dot)) == len(build_route_graph(providers, DECISION, ATTEMPTS).edges)
    assert dot.count("rank=same") == 4
    assert dot.count("{") == dot.count("}")


def test_keyed_agraph_wrapper_renders_the_component_and_returns_an_injected_click():
    from streamlit.testing.v1 import AppTest

    script = """
import streamlit as st
from core.app.views.route_graph import build_route_graph
from core.app.widgets_graph import render_route_graph_keyed
graph = build_route_graph([{"name": "hf", "kind": "huggingface", "models": ["m"], "status": "ready"}], None, [])
clicked = render_route_graph_keyed(graph, key="route_graph")
render_route_graph_keyed(graph, key="route_graph_2")        # a second graph: no duplicate-id error
st.write(f"clicked: {clicked!r}")
render_route_graph_keyed(graph, fallback=True)
"""
    at = AppTest.from_string(script, default_timeout=30).run()
    assert not at.exception
    components = at.get("component_instance")
    assert len(components) == 2 and components[0].proto.component_name == "streamlit_agraph.agraph"
    assert "model:hf/m" in components[0].proto.json_args
    assert "digraph route" in at.get("graphviz_chart")[0].proto.spec
    at.session_state["route_graph"] = "provider:hf"
    at.run()
    assert "clicked: 'provider:hf'" in [m.value for m in at.markdown]
