"""Providers: this session's keys (BYOK), its per-provider routing settings, health checks, config, prices."""

import json

import pandas as pd
import streamlit as st

from core.app.session import ProviderSettings
from core.app.widgets import demo_banner, page

svc, ctx = page()
ss = st.session_state
st.title("🔑 Providers")
demo_banner(svc, ctx)
st.caption("Keys you enter here are kept in this browser session only: never written to disk, logs or the "
           "database, and sent only to their own provider. Close the tab or press *Clear my keys* to forget them. "
           "The settings below change routing for this session only.")


def save_key(name: str) -> None:
    """Copy the password widget into the session's key ring (or keep why it was refused), then empty it."""
    ss[f"key_problem_{name}"] = svc.providers.set_key(ctx, name, ss.get(f"key_input_{name}") or "")
    ss[f"key_input_{name}"] = ""


def save_settings(name: str) -> None:
    rank = ss[f"priority_{name}"]
    svc.providers.save_settings(ctx, name, ProviderSettings(
        enabled=ss[f"enabled_{name}"], priority=None if rank == 0 else rank - 1,
        fallback=ss[f"fallback_{name}"], always_use_this_key=ss[f"always_{name}"]))


for card in [c for c in svc.providers.cards(ctx) if c.kind != "demo"]:
    name, settings = card.name, card.settings
    with st.container(border=True):
        top = st.columns([3, 2])
        top[0].markdown(f"### {name}  \n`{card.kind.replace('_', '-')}` · {card.base_url or 'default endpoint'}"
                        f"  \n{card.badge}")
        top[1].markdown(f"**Your key:** `{card.my_key}`" if card.my_key else "**Your key:** not set")
        top[1].markdown("**Shared key:** " + (f"set (`{card.shared_key}`)" if card.shared_key else
                                              "not needed" if card.keyless else "none"))
        if not (card.keyless and not card.shared_key) or card.my_key:
            st.text_input(f"Your {name} key", type="password", key=f"key_input_{name}", on_change=save_key,
                          args=(name,), placeholder="paste and press Enter", help="Held in this session only.")
        if problem := ss.get(f"key_problem_{name}"):
            st.error(problem, icon="🚫")
        if card.my_key and st.button("Forget my key", key=f"forget_{name}"):
            svc.providers.forget_key(ctx, name)
            st.rerun()

        c1, c2, c3, c4 = st.columns(4)
        c1.toggle("Use this provider", value=settings.enabled, key=f"enabled_{name}", on_change=save_settings,
                  args=(name,))
        c2.number_input("Priority (1 = first, 0 = none)", min_value=0, max_value=99,
                        value=0 if settings.priority is None else settings.priority + 1, key=f"priority_{name}",
                        on_change=save_settings, args=(name,))
        c3.toggle("May serve as fallback", value=settings.fallback, key=f"fallback_{name}",
                  on_change=save_settings, args=(name,))
        c4.toggle("Always use my key", value=settings.always_use_this_key, key=f"always_{name}",
                  on_change=save_settings, args=(name,),
                  help="Never fall back to the shared key for this provider, even if yours fails.")

        if st.button("Check health", key=f"health_{name}"):
            with st.spinner(f"Calling {name}…"):
                health = svc.providers.health(ctx, name)
            if health["ok"]:
                st.success(f"Healthy · {health['latency_ms']:.0f} ms · with the {health['key_source']} key")
            else:
                st.error(f"{health['kind'] or 'error'} · {health['latency_ms']:.0f} ms · {health['message']}")

st.subheader("Model catalogue")
st.dataframe(pd.DataFrame(svc.providers.catalogue()), hide_index=True, width="stretch",
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
