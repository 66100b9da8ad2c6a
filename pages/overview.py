"""Home: provider status for this session, today's numbers, recent tasks."""

import pandas as pd
import streamlit as st

from core.app.views.home import error_rate_text, recent_task_rows, today
from core.app.widgets import database_line, database_problem, demo_banner, page

svc, ctx = page()
st.title("🛰️ Spaces OS")
st.caption("Operator console: route chat across Hugging Face, OpenRouter and your own endpoints, "
           "let the manager agent triage requests, and run Spaces on the Hub.")
demo_banner(svc, ctx)
database_line(svc)
if problem := database_problem(svc):
    st.warning(f"**Database:** {problem}", icon="🗄️")
for note in svc.notes:
    st.warning(note, icon="🔧")
if svc.rules_error:
    st.error(f"Routing rules are invalid: {svc.rules_error}. Fix them on the **Routing** page.")

st.subheader("Providers")
cards = svc.providers.cards(ctx)
cols = st.columns(max(1, min(4, len(cards))))
for i, card in enumerate(cards):
    with cols[i % len(cols)].container(border=True):
        kind = card.kind.replace("_", "-")
        st.markdown(f"**{card.name}**" + (f" · {kind}" if kind != card.name else "") + f"  \n{card.badge}")
        if card.kind != "demo":
            shared = "no key needed" if card.keyless and not card.shared_key else (card.shared_key or "none")
            st.caption(f"shared key: {shared} · your key: {card.my_key or 'none'} · {card.rank}"
                       + ("" if card.settings.fallback else " · never a fallback"))

st.subheader("Last 24 hours")
summary = today(svc.store)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Requests", f"{summary['requests']:,}")
c2.metric("Cost", f"${summary['cost_usd']:.4f}")
median = summary["median_latency_ms"]
c3.metric("Median latency", f"{median:,.0f} ms" if median is not None else "—")
c4.metric("Error rate", error_rate_text(summary))

st.subheader("Recent tasks" + ("" if ctx.operator else " (yours)"))
rows = recent_task_rows(svc.tasks.queue(ctx, limit=10))
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
else:
    st.caption("No tasks yet. Ask something on the **Chat** page.")
