"""Remote MCP servers for one session: its token for the Hugging Face server, its own cache of tool lists,
and the status table the Spaces page's MCP tab shows. No Streamlit here.

    remote = session_remote_tools(st.session_state, svc.config, token, hosted=svc.hosted)
    registry.extend(remote.tools)
    server_rows(remote)      # [{"Server": "notes", "Status": "🟢 connected", "Tools": 2, ...}]
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from core.app.views.spaces import HubToken
from core.llm.config import AppConfig
from core.tools.remote import RemoteTools, ToolListCache, remote_tools

_CACHE_KEY = "mcp_tool_lists"     # this session's cache: lists reached with its own HF token


def session_remote_tools(state: MutableMapping[str, Any], config: AppConfig, token: HubToken, *,
                         hosted: bool, refresh: bool = False) -> RemoteTools:
    """The remote servers' tools and statuses for this session (its own HF token, if it gave one)."""
    cache = state.get(_CACHE_KEY)
    if not isinstance(cache, ToolListCache):
        cache = state[_CACHE_KEY] = ToolListCache()
    mine = token.value if token.source == "session" else None
    return remote_tools(config, session_hf_token=mine, hosted=hosted, session_cache=cache, refresh=refresh)


def server_rows(remote: RemoteTools) -> list[dict[str, Any]]:
    """One row per configured server: name, URL, connected or why not, and how many tools it offers."""
    offered: dict[str, int] = {}
    for tool in remote.tools:
        server = tool.name.split(".", 1)[0]
        offered[server] = offered.get(server, 0) + 1
    return [{"Server": s.name, "URL": s.url,
             "Status": "🟢 connected" if s.available else f"🔴 {s.reason.removeprefix(f'{s.name}: ')}",
             "Tools": offered.get(s.name, 0)} for s in remote.statuses]
