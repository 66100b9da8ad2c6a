"""Routing: the live routing graph, the decision log, the task queue and the routing rules editor."""

import streamlit as st

from core.agent.rules import RulesError
from core.app.chat_widgets import decision_log_view, queue_header, task_row
from core.app.rules import ReadOnlyRules
from core.app.views.route_graph import build_route_graph, node_words
from core.app.views.routing import EVENT_KINDS, decision_log, label_routes, last_decision, provider_rows
from core.app.widgets import page
from core.app.widgets_graph import render_route_graph_keyed, route_graph_legend

svc, ctx = page()
st.title("🔀 Routing")
st.caption("How the manager decided: Manager → label → model → provider. The last decision's path is "
           "highlighted; failed attempts are red, providers cooling down are orange.")

decision = last_decision(svc.store, None if ctx.operator else ctx.session_hash)
graph = build_route_graph(provider_rows(svc.router, ctx.keys), decision, routes=label_routes(svc.manager, svc.router))
clicked = render_route_graph_keyed(graph, key="route_graph")
route_graph_legend()
if decision:
    st.caption(f"Last decision: task `{decision['task_id']}` · {decision.get('label')} → "
               f"{decision.get('provider')} / {decision.get('model')}")

st.subheader("Decision log" + ("" if ctx.operator else " (your tasks)"))
node = clicked if clicked and clicked != "manager" else None
st.caption(f"Tasks through the {node_words(node)} (clicked in the graph; click Manager for every task)."
           if node else "Click a node in the graph to see only the tasks that went through it.")
c1, c2, c3 = st.columns([2, 2, 1])
kinds = c1.multiselect("Kinds", EVENT_KINDS, key="log_kinds", placeholder="all kinds")
needle = c2.text_input("Task id or text", key="log_text", placeholder="filter…")
hours = c3.selectbox("Window", [1, 24, 168], index=1, format_func=lambda h: f"last {h} h", key="log_hours")
rows = decision_log(svc.store, kinds=kinds, text=needle, hours=hours, node=node,
                    session=None if ctx.operator else ctx.session_hash)
if rows:
    decision_log_view(rows)
else:
    st.caption("No decisions in this window yet.")

st.subheader("Task queue" + ("" if ctx.operator else " (yours)"))


@st.fragment(run_every=2.0)
def task_queue() -> None:
    tasks = svc.tasks.queue(ctx, limit=20)
    if not tasks:
        st.caption("No tasks yet.")
    else:
        queue_header()
    for task in tasks:
        if task_row(svc, ctx, task):
            st.rerun(scope="fragment")


task_queue()

st.subheader("Routing rules")
editable = svc.rules.editable(ctx)
st.caption(f"`{svc.rules.path.name}`: label → model tiers per provider, and the interruption policy. "
           + ("Checked before saving; a bad edit never replaces the file." if editable else
              "Shared by every visitor of this console, so read-only here."))
edited = st.text_area("routing.yaml", svc.rules.text(), height=360, key="rules_text", label_visibility="collapsed",
                      disabled=not editable)
for warning in svc.rules.unknown_models(edited):
    st.warning(warning, icon="⚠️")
if editable and st.button("Validate and save", key="rules_save", type="primary"):
    try:
        svc.rules.save(ctx, edited)
    except (RulesError, ReadOnlyRules) as e:
        st.error(f"Not saved: {e}")
    else:
        st.success("Saved. The manager now routes with the new rules.")
