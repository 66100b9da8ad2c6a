"""Routing: the live routing graph, the decision log, the task queue and the routing rules editor."""

import json
from pathlib import Path

import pandas as pd
import streamlit as st

from core.agent.rules import RulesError, save_rules_text
from core.app.services import apply_rules
from core.app.views.route_graph import build_route_graph
from core.app.views.routing import EVENT_KINDS, decision_log, label_routes, last_decision, provider_rows
from core.app.widgets import require_services, session_keys
from core.app.widgets_graph import render_route_graph_keyed

svc = require_services()
keys = session_keys()
st.title("🔀 Routing")
st.caption("How the manager decided: Manager → label → model → provider. The last decision's path is "
           "highlighted; failed attempts are red, providers cooling down are orange.")

decision = last_decision(svc.store)
graph = build_route_graph(provider_rows(svc.router, keys), decision, routes=label_routes(svc.manager, svc.router))
clicked = render_route_graph_keyed(graph, key="route_graph")
if clicked:
    st.caption(f"Selected: `{clicked}`")
if decision:
    st.caption(f"Last decision: task `{decision['task_id']}` · {decision.get('label')} → "
               f"{decision.get('provider')} / {decision.get('model')}")

st.subheader("Decision log")
c1, c2, c3 = st.columns([2, 2, 1])
kinds = c1.multiselect("Kinds", EVENT_KINDS, key="log_kinds", placeholder="all kinds")
needle = c2.text_input("Task id or text", key="log_text", placeholder="filter…")
hours = c3.selectbox("Window", [1, 24, 168], index=1, format_func=lambda h: f"last {h} h", key="log_hours")
rows = decision_log(svc.store, kinds=kinds, text=needle, hours=hours)
if rows:
    frame = pd.DataFrame(rows)
    frame["data"] = frame["data"].map(lambda d: json.dumps(d, default=str)[:200])
    st.dataframe(frame, hide_index=True, width="stretch", height=320)
else:
    st.caption("No decisions in this window yet.")

st.subheader("Task queue")


@st.fragment(run_every=2.0)
def task_queue() -> None:
    tasks = svc.manager.list(limit=20) if svc.manager else []
    if not tasks:
        st.caption("No tasks yet.")
        return
    for task in tasks:
        cols = st.columns([1.3, 1, 1, 4, 0.8, 0.8, 0.8])
        cols[0].markdown(f"`{task.id}`")
        cols[1].markdown(f"**{task.status}**")
        cols[2].markdown(f"{task.label} {task.confidence or 0:.0%}")
        cols[3].markdown(task.prompt[:80])
        if task.status == "running" and cols[4].button("Pause", key=f"q_pause_{task.id}"):
            svc.manager.pause(task.id)
            st.rerun(scope="fragment")
        if task.status == "paused" and cols[5].button("Resume", key=f"q_resume_{task.id}"):
            svc.manager.resume(task.id, keys)
            st.rerun(scope="fragment")
        if task.status in ("queued", "running", "paused") and cols[6].button("Cancel", key=f"q_cancel_{task.id}"):
            svc.manager.cancel(task.id)
            st.rerun(scope="fragment")


task_queue()

st.subheader("Routing rules")
rules_file = Path(svc.rules_path)
st.caption(f"`{rules_file.name}`: label → model tiers per provider, and the interruption policy. "
           "Checked before saving; a bad edit never replaces the file.")
current = rules_file.read_text(encoding="utf-8") if rules_file.exists() else ""
edited = st.text_area("routing.yaml", current, height=360, key="rules_text", label_visibility="collapsed")
if st.button("Validate and save", key="rules_save", type="primary"):
    try:
        rules = save_rules_text(edited, rules_file)
    except RulesError as e:
        st.error(f"Not saved: {e}")
    else:
        apply_rules(svc, rules)
        st.success("Saved. The manager now routes with the new rules.")
