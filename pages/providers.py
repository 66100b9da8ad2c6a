"""Providers: this session's keys (BYOK), per-session routing settings, health checks, config, prices."""

import json

import pandas as pd
import streamlit as st

from core.app.views.providers import check_health, key_problem, model_catalogue
from core.app.widgets import demo_banner, require_services, set_key
from core.llm.keys import mask

svc = require_services()
ss = st.session_state
st.title("🔑 Providers")
demo_banner(svc)
st.caption("Keys you enter here are kept in this browser session only: never written to disk, logs or the "
           "database, and sent only to their own provider. Close the tab or press *Clear my keys* to forget them.")


def save_key(name: str) -> None:
    """Copy the password widget into the session's key ring, then empty the widget."""
    value = (ss.get(f"key_input_{name}") or "").strip()
    if value:
        set_key(svc, name, value)
    ss[f"key_input_{name}"] = ""


for p in [p for p in svc.config.providers if p.kind != "demo"]:
    with st.container(border=True):
        top = st.columns([3, 2])
        top[0].markdown(f"### {p.name}  \n`{p.kind.replace('_', '-')}` · {p.base_url or 'default endpoint'}")
        mine = ss["keys"].get(p.name)
        top[1].markdown(f"**Your key:** `{mask(mine)}`" if mine else "**Your key:** not set")
        top[1].markdown(f"**Shared key:** {'set (' + mask(p.api_key) + ')' if p.api_key else 'none'}")
        st.text_input(f"Your {p.name} key", type="password", key=f"key_input_{p.name}",
                      on_change=save_key, args=(p.name,), placeholder="paste and press Enter",
                      help="Held in this session only.")
        if mine and (problem := key_problem(svc.router, p.name, mine)):
            st.warning(problem)
        if mine and st.button("Forget my key", key=f"forget_{p.name}"):
            set_key(svc, p.name, None)
            st.rerun()

        current = ss["overrides"].get(p.name, {})
        c1, c2, c3, c4 = st.columns(4)
        enabled = c1.toggle("Use this provider", value=current.get("enabled", True), key=f"enabled_{p.name}")
        priority = current.get("priority", p.priority)
        rank = c2.number_input("Priority (1 = first, 0 = none)", min_value=0, max_value=99,
                               value=0 if priority is None else int(priority) + 1, key=f"priority_{p.name}")
        fallback = c3.toggle("May serve as fallback", value=current.get("fallback", p.fallback),
                             key=f"fallback_{p.name}")
        always = c4.toggle("Always use my key", value=current.get("always_use_this_key", p.always_use_this_key),
                           key=f"always_{p.name}",
                           help="Never fall back to the shared key for this provider, even if yours fails.")
        ss["overrides"] = {**ss["overrides"], p.name: {"enabled": enabled, "priority": None if rank == 0 else rank - 1,
                                                       "fallback": fallback, "always_use_this_key": always}}

        if st.button("Check health", key=f"health_{p.name}"):
            with st.spinner(f"Calling {p.name}…"):
                health = check_health(svc.router, p.name, ss["keys"].get(p.name))
            if health["ok"]:
                st.success(f"Healthy · {health['latency_ms']:.0f} ms · with the {health['key_source']} key")
            else:
                st.error(f"{health['kind'] or 'error'} · {health['latency_ms']:.0f} ms · {health['message']}")

st.subheader("Model catalogue")
catalogue = model_catalogue(svc.router)
st.dataframe(pd.DataFrame(catalogue), hide_index=True, width="stretch",
             column_config={"input $/1M": st.column_config.NumberColumn(format="$%.2f"),
                            "output $/1M": st.column_config.NumberColumn(format="$%.2f")})
st.caption("Prices in USD per 1M tokens from data/prices.yaml; OpenRouter reports the exact cost of each call.")

st.subheader("Loaded config")
st.caption(f"Source: {svc.config_path or svc.config.source}")
for note in svc.notes:
    st.warning(note)
st.code(json.dumps(svc.config.masked(), indent=2, default=str), language="json")
if svc.config.mcp_url:
    st.caption(f"Hugging Face MCP server: {svc.config.mcp_url}")
