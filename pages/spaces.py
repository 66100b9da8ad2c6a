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


import streamlit as st

from core.app.spaces_page import (
    build_section,
    mcp_section,
    my_spaces_section,
    search_section,
    spaces_page_context,
)
from core.app.widgets import require_services, session_context

svc = require_services(needs_router=False)     # search and My Spaces work even with a broken provider config
page = spaces_page_context(svc, session_context(svc))
hub, token = page.hub, page.token

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
