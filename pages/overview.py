"""Home: provider status, today's numbers, recent tasks."""

import time

import pandas as pd
import streamlit as st

from core.app.widgets import demo_banner, require_services, session_keys
from core.llm.keys import mask

svc = require_services()
keys = session_keys()
st.title("🛰️ Spaces OS")
st.caption("Operator console: route chat across Hugging Face, OpenRouter and your own endpoints, "
           "let the manager agent triage requests, and run Spaces on the Hub.")
demo_banner(svc)
for note in svc.notes:
    st.warning(note, icon="🔧")
if svc.rules_error:
    st.error(f"Routing rules are invalid: {svc.rules_error}. Fix them on the **Routing** page.")

st.subheader("Providers")
statuses = [s for s in svc.router.status(keys) if s.kind != "demo" or svc.router.is_demo(keys)]
cols = st.columns(max(1, min(4, len(statuses))))
for i, s in enumerate(statuses):
    cfg = svc.config.provider(s.name)
    with cols[i % len(cols)].container(border=True):
        circuit = s.circuit.get("state", "closed")
        if s.kind == "demo":
            badge = "🧪 demo"
        elif circuit == "open":
            badge = f"🟠 cooling down ({s.circuit.get('cooldown_left_s', 0):.0f} s)"
        elif not s.usable:
            badge = "⚪ no key"
        else:
            badge = "🟢 ready"
        st.markdown(f"**{s.name}** · {s.kind.replace('_', '-')}  \n{badge}")
        if s.kind == "demo":
            st.caption("offline model, no key needed")
        else:
            st.caption(f"shared key: {mask(cfg.api_key) if cfg.api_key else 'none'} · "
                       f"your key: {mask(keys.get(s.name)) if keys.get(s.name) else 'none'}")
        if cfg.priority is not None:
            st.caption(f"priority {cfg.priority}")

st.subheader("Last 24 hours")
summary = svc.store.summary(time.time() - 86400)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Requests", f"{summary['requests']:,}")
c2.metric("Cost", f"${summary['cost_usd']:.4f}")
median = summary["median_latency_ms"]
c3.metric("Median latency", f"{median:,.0f} ms" if median is not None else "—")
c4.metric("Error rate", f"{summary['error_rate']:.1%}")

st.subheader("Recent tasks")
tasks = svc.store.list_tasks(limit=10)
if tasks:
    frame = pd.DataFrame([{
        "task": t["id"], "status": t["status"], "label": t["label"],
        "confidence": round(t["confidence"] or 0, 2), "provider": t["provider"], "model": t["model"],
        "prompt": (t["prompt"] or "")[:80], "updated": time.strftime("%H:%M:%S", time.localtime(t["updated_at"])),
    } for t in tasks])
    st.dataframe(frame, hide_index=True, width="stretch")
else:
    st.caption("No tasks yet. Ask something on the **Chat** page.")
