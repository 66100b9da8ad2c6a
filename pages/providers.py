"""Providers: this session's keys (BYOK), its per-provider routing settings, health checks, config, prices."""

import json

import pandas as pd
import streamlit as st

from core.app.provider_widgets import breaker_scope_caption, provider_card
from core.app.widgets import demo_banner, page

svc, ctx = page()
st.title("🔑 Providers")
demo_banner(svc, ctx)
st.caption("Keys you enter here are kept in this browser session only: never written to disk, logs or the "
           "database, and sent only to their own provider. Close the tab or press *Clear my keys* to forget them. "
           "The settings below change routing for this session only.")
breaker_scope_caption(svc)

for card in [c for c in svc.providers.cards(ctx) if c.kind != "demo"]:
    provider_card(svc, ctx, card)

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
