"""The MCP tab of the Spaces page: where the Hugging Face MCP server is configured, and the Hub tool
registry (names, descriptions, JSON schemas) that the Chat agent shares."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app.spaces_page.common import SpacesPageContext
from core.app.views.spaces import tool_rows
from core.tools.registry import build_hub_tools


def mcp_section(ctx: SpacesPageContext) -> None:
    """The MCP tab."""
    svc = ctx.svc
    st.subheader("Hugging Face MCP server", anchor=False)
    if svc.config.mcp_url:
        st.markdown(f"**URL** `{svc.config.mcp_url}`")
        st.caption("Agents connect over streamable HTTP with `Authorization: Bearer <HF token>`. Set under "
                   "`huggingface.mcp_url` in the config.")
    else:
        st.info("Not configured. Add `mcp_url: https://huggingface.co/mcp` under `huggingface:` in "
                "`agentic-config.yaml` to use the Hub's MCP server.", icon="🔌")
    registry = build_hub_tools(ctx.hub, ctx.spaces)
    st.subheader(f"Hub tools ({len(registry)})", anchor=False)
    st.caption("One registry, shared by the Chat agent and a future MCP server: name, description, JSON-schema "
               "parameters and handler. Parameters marked * are required; tools that change things ask first.")
    rows = [{"Tool": r["tool"], "What it does": r["what it does"], "Parameters": r["parameters"],
             "Changes things": "yes" if r["changes things"] else ""} for r in tool_rows(registry.list())]
    st.table(pd.DataFrame(rows), hide_index=True, border="horizontal")
    name = st.selectbox("Show the schema of", registry.names(), key="mcp_tool")
    st.json(registry.get(name).mcp_schema(), expanded=2)

