"""Spaces: search the Hugging Face Hub, then create, deploy, watch and manage your own Spaces.

Every Hub call uses this session's HF token (entered on Providers), else the shared one from the config;
only its masked form is ever shown. The Hub is `HF_ENDPOINT` (through the services). Nothing calls the
Hub while the page loads: searches run when the form is submitted, My Spaces loads when its tab opens,
and waits and log tails stop at a time limit.

Build from an idea runs the build agent (`core.build.agent`) in a background thread of this session
(`core.app.views.build`); the tab follows the run from the database every second and never waits for it.

The layout of each tab lives in `core.app.spaces_page` (one module per tab); this page sets up the session's
Hub clients and hands them to the tabs in a `SpacesPageContext`.

Environment (read once, here): `SPACES_OS_HF_ROUTER_URL`, optional, is the inference router whose
`/models/{id}` prices a model's detail panel shows. Unset, prices come from the public router only when
the endpoint is the public Hub.
"""

import os

import streamlit as st

from core.app.spaces_page import (
    SpacesPageContext,
    build_section,
    mcp_section,
    my_spaces_section,
    search_section,
)
from core.app.views.spaces import choose_hub_token, session_clients
from core.app.widgets import identity, require_services, session_keys

ROUTER_URL = os.environ.get("SPACES_OS_HF_ROUTER_URL") or None

svc = require_services()
ss = st.session_state
token = choose_hub_token(svc.config.providers, session_keys(), hosted=svc.hosted)
who = identity(svc)      # the same session identity as Chat and the audit log (the visitor, when hosted)
hub, spaces = session_clients(ss, endpoint=svc.hub_endpoint, token=token, router_url=ROUTER_URL, store=svc.store,
                              session=who)
page = SpacesPageContext(svc=svc, hub=hub, spaces=spaces, token=token, who=who, router_url=ROUTER_URL)
# Widget values the previous run asked to clear; assigning (not popping) also clears the browser's copy.
for widget, empty in ss.pop("spaces_reset", {}).items():
    ss[widget] = empty

st.title("🚀 Spaces")
st.caption("Search the Hugging Face Hub, then create, deploy, watch and manage your own Spaces.")
badge = {"session": "green", "shared": "blue", "none": "orange"}[token.source]
st.markdown(f":material/hub: Hub `{hub.endpoint}` &nbsp; :material/key: :{badge}-badge[{token.label}]"
            + (f" `{token.masked}`" if token.value else ""))

search_tab, mine_tab, mcp_tab, build_tab = st.tabs(["Search", "My Spaces", "MCP", "Build from an idea"],
                                                   key="spaces_tab", on_change="rerun")
with search_tab:
    search_section(page)
if mine_tab.open:                       # Hub reads happen only once this tab is opened
    with mine_tab:
        my_spaces_section(page)
with mcp_tab:
    mcp_section(page)
if build_tab.open:                      # its live view ticks every second: only while it is shown
    with build_tab:
        build_section(page)
