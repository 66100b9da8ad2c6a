"""Issue 15, the items left: the routing graph's layout, legend and click filter; unknown model names in
the rules editor; paused tasks back in Chat after a restart; long messages collapsed."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.views.route_graph import build_route_graph, to_agraph
from core.app.views.routing import decision_log
from core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
COMPLEX = "Write a detailed migration plan from a monolith to microservices, with risks and a timeline."


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30).run()


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info] + \
            [w.value for w in at.warning]
    return "\n".join(str(p) for p in parts)


# ---------------------------------------------------------------------- the routing graph


def test_the_graph_runs_left_to_right_with_room_for_every_label_in_a_column():
    providers = [{"name": "hf", "kind": "huggingface", "models": ["org/a", "org/b"], "status": "ready"},
                 {"name": "or", "kind": "openrouter", "models": ["x/c"], "status": "cooldown"}]
    graph = build_route_graph(providers, {"label": "COMPLEX", "provider": "hf", "model": "org/a"})
    _nodes, _edges, config = to_agraph(graph)
    layout = config.layout["hierarchical"]
    assert layout["direction"] == "LR" and config.width == "100%"      # never wider than its column
    line = 14 + 2 + 6                            # a label below a dot or diamond: font, line and gap
    for level in {n["level"] for n in graph.nodes}:
        column = [n for n in graph.nodes if n["level"] == level]
        below = max((n["size"] + line if n["shape"] != "box" else 14) for n in column)
        above = max((n["size"] if n["shape"] != "box" else 14) for n in column)
        assert below + above <= layout["nodeSpacing"], (level, below, above, layout["nodeSpacing"])


def _traffic(store: Store) -> None:
    for task, label, provider, model in (("t-quick", "QUICK", "demo", "demo/quick-1"),
                                         ("t-long", "COMPLEX", "demo", "demo/deep-1")):
        store.log_event("classified", label, task_id=task, data={"label": label, "confidence": 0.9})
        store.log_event("done", "answered", task_id=task, data={"provider": provider, "model": model})
    store.log_event("attempt_failed", "hf: timeout", task_id="t-long",
                    data={"provider": "huggingface", "model": "Qwen/Qwen2.5-72B-Instruct", "outcome": "timeout"})


def test_a_graph_node_filters_the_decision_log_to_the_tasks_through_it(tmp_path):
    store = Store(tmp_path / "db.sqlite")
    _traffic(store)
    tasks = {node: {r["task"] for r in decision_log(store, node=node)} for node in (
        "label:QUICK", "label:COMPLEX", "model:demo/demo/deep-1", "provider:huggingface", "provider:demo",
        "manager")}
    assert tasks == {"label:QUICK": {"t-quick"}, "label:COMPLEX": {"t-long"}, "model:demo/demo/deep-1": {"t-long"},
                     "provider:huggingface": {"t-long"}, "provider:demo": {"t-quick", "t-long"},
                     "manager": {"t-quick", "t-long"}}


def test_the_routing_page_has_a_legend_and_a_click_filters_its_decision_log(fresh):
    at = app()
    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("What's 2+2?").run()
    at.switch_page("pages/routing.py").run()
    assert not at.exception
    legend = texts(at)
    for words in ("label", "model", "provider", "failed", "cooling down"):
        assert words in legend
    assert len(at.dataframe[0].value) >= 3
    at.session_state["route_graph"] = "label:COMPLEX"       # a click on a node (the keyed component)
    at.run()
    assert "Tasks through the label COMPLEX" in texts(at)
    assert "No decisions in this window yet." in texts(at) and not at.dataframe
    at.session_state["route_graph"] = "label:QUICK"
    at.run()
    assert len(at.dataframe[0].value) >= 3 and set(at.dataframe[0].value["kind"]) >= {"classified", "done"}


def test_the_rules_editor_warns_about_models_no_provider_offers(fresh):
    at = app()
    at.switch_page("pages/routing.py").run()
    assert not at.warning
    editor = at.text_area(key="rules_text")
    editor.input(editor.value.replace("openai/gpt-4o-mini,", "openai/gpt-4o-mni,")).run()
    warned = [w.value for w in at.warning]
    assert len(warned) == 1 and "`openai/gpt-4o-mni`" in warned[0] and "`openai/gpt-4o-mini`" in warned[0]
    assert "openrouter offers" in warned[0]


# ---------------------------------------------------------------------- chat


def _crashed_task(db: Path, session: str | None) -> str:
    """A task that was streaming when the process died: running, with a checkpoint, no live manager."""
    row = Store(db).create_task(prompt=COMPLEX, session=session, status="running", label="COMPLEX",
                                checkpoint={"messages": [{"role": "user", "content": COMPLEX}],
                                            "partial_text": "Step one: inventory the services.",
                                            "provider": "demo", "model": "demo/deep-1"})
    return row["id"]


def test_after_a_restart_paused_tasks_come_back_into_the_operators_chat(fresh, monkeypatch):
    db = fresh / "spaces_os.db"
    monkeypatch.setenv("SPACES_OS_DB", str(db))
    task_id = _crashed_task(db, session="an-old-browser-session")
    at = app()
    at.switch_page("pages/chat.py").run()
    assert not at.exception
    assert "The console restarted while 1 of your task ran" in texts(at)
    assert task_id in at.session_state["task_ids"]
    assert "Step one: inventory the services." in texts(at)
    assert [b for b in at.button if b.label == "Resume" and not b.disabled]


def test_after_a_restart_a_visitor_is_told_where_tasks_they_cannot_claim_wait(fresh, monkeypatch):
    db = fresh / "spaces_os.db"
    monkeypatch.setenv("SPACES_OS_DB", str(db))
    monkeypatch.setenv("SPACE_ID", "alice/spaces-os")      # hosted: a visitor owns only their own identity's work
    _crashed_task(db, session="someone-else")
    at = app()
    at.switch_page("pages/chat.py").run()
    assert not at.exception
    body = texts(at)
    assert "wait in the **Routing** page's task queue" in body and "The console restarted while" not in body
    assert at.session_state["task_ids"] == []


def test_a_50000_character_message_and_a_long_answer_are_collapsed(fresh):
    at = app()
    at.switch_page("pages/chat.py").run()
    long = "word " * 10_000
    at.session_state["messages"] = [{"role": "assistant", "content": "answer " * 8_000}]
    at.chat_input[0].set_value(long).run()
    assert not at.exception
    for message in at.chat_message[:2]:
        shown = message.markdown[0].value
        assert len(shown) < 2_000 and "more characters" in shown
        assert message.expander[0].label.startswith("Show the whole message")
    assert at.chat_message[1].expander[0].markdown[0].value.strip() == long.strip()
