"""The MCP tab of the Spaces page: the remote MCP servers Chat uses (status and tools of each), and the Hub
tool registry (names, descriptions, JSON schemas) that the Chat agent and our own MCP server share.

Servers are asked for their tools when this tab is opened, then kept (see `core.tools.remote`); "Check
again" asks them now."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app.spaces_page.common import SpacesPageContext
from core.app.views.mcp import server_rows, session_remote_tools
from core.app.views.spaces import tool_rows
from core.tools.registry import build_hub_tools
from core.tools.remote import server_names

TAB_STATE = "spaces_tab"     # pages/spaces.py keys its tabs so: the servers are asked only while this tab shows


def mcp_section(ctx: SpacesPageContext) -> None:
    """The MCP tab."""
    remote_servers_section(ctx)
    registry = build_hub_tools(ctx.hub, ctx.spaces)
    st.subheader(f"Hub tools ({len(registry)})", anchor=False)
    st.caption("One registry, shared by the Chat agent and our MCP server (`python -m core.app.mcp_server`): "
               "name, description, JSON-schema parameters and handler. Parameters marked * are required; tools "
               "that change things ask first.")
    tools_table(tool_rows(registry.list()))
    name = st.selectbox("Show the schema of", registry.names(), key="mcp_tool")
    st.json(registry.get(name).mcp_schema(), expanded=2)


def remote_servers_section(ctx: SpacesPageContext) -> None:
    svc = ctx.svc
    st.subheader("Remote MCP servers", anchor=False)
    if svc.config is None:
        st.info("The config could not be loaded (see above), so no remote MCP server is known.", icon="⚠️")
        return
    if svc.config.mcp_url:
        st.markdown(f"**URL** `{svc.config.mcp_url}` (the Hugging Face MCP server, named `hf`)")
    if not server_names(svc.config):
        st.info("Not configured. Add `mcp_url: https://huggingface.co/mcp` under `huggingface:`, or servers "
                "under `mcp_servers:` (`name: {url, token, timeout}`, or `name: {command, args, env}` for a local "
                "server on stdio) in `agentic-config.yaml`; their tools "
                "then join the Chat agent, named `server.tool`.", icon="🔌")
        return
    if st.session_state.get(TAB_STATE) != "MCP":
        return
    refresh = st.button("Check again", key="mcp_refresh", help="Ask every server for its tools now.")
    with st.spinner("Asking the MCP servers for their tools…"):
        remote = session_remote_tools(st.session_state, svc.config, ctx.token, hosted=svc.hosted,
                                      refresh=refresh)
    st.dataframe(pd.DataFrame(server_rows(remote)), hide_index=True, width="stretch")
    st.caption("Their tools join the Chat agent beside the Hub tools. A tool its server does not mark read-only "
               "asks you before it runs. The `hf` server gets your HF token (else the shared one, never when "
               "hosted); the others get the `token` from the config." +
               (" Hosted: a server reached with the owner's token offers only its read-only tools." if svc.hosted
                else ""))
    if remote.tools:
        tools_table(tool_rows(remote.tools))


def tools_table(rows: list[dict]) -> None:
    st.table(pd.DataFrame([{"Tool": r["tool"], "What it does": r["what it does"], "Parameters": r["parameters"],
                            "Changes things": "yes" if r["changes things"] else ""} for r in rows]),
             hide_index=True, border="horizontal")
