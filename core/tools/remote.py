"""Remote MCP tools for one chat session: which servers, with which token, and where their tool lists are kept.

    remote = remote_tools(config, session_hf_token=None, hosted=False, session_cache=ToolListCache())
    registry.extend(remote.tools)        # `notes.add`, `hf.hub_repo_search`… next to the Hub tools
    [(s.name, s.available, s.reason, len(s.tools)) for s in remote.statuses]

The servers are the config's `mcp_servers:` section plus `huggingface.mcp_url` (named `hf`). A tool its
server does not mark `readOnlyHint` is `mutating`, so the agent loop asks the user before running it.
A server that is down or refuses the token is a status with the reason in plain words, never an error:
Chat goes on without its tools.

Tool lists are kept for `LIST_TTL` seconds (a failure for `FAILURE_TTL`), so page runs do not connect
again. Where a list is kept depends on whose token reached the server:
- the config's own tokens, or none: `SHARED_LISTS`, one per process;
- this session's HF token: the `session_cache` the caller keeps in the session, never a shared one.
Only listings are kept (names, descriptions, schemas); each tool's handler is built per call with the
token of that call. When hosted, a server reached with the owner's token offers only its read-only
tools: a visitor must not change things as the owner, even after confirming.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import mcp_types

from core.llm.config import AppConfig, McpServerConfig
from core.tools.mcp_client import (
    HF_SERVER,
    AsyncRunner,
    McpConnection,
    McpServerStatus,
    mcp_server_configs,
    probe_servers,
    remote_tool,
)
from core.tools.registry import Tool

LIST_TTL = 300.0         # a server's tools rarely change; "Check again" on the MCP tab refreshes at once
FAILURE_TTL = 30.0       # a dead server is asked again after this, not on every page run

_Listing = tuple[McpServerStatus, list[mcp_types.Tool]]


class ToolListCache:
    """Servers' tool listings by (name, url, timeout, token fingerprint), each kept for a while. Thread-safe."""

    def __init__(self, ttl: float = LIST_TTL, failure_ttl: float = FAILURE_TTL,
                 clock: Callable[[], float] = time.monotonic):
        self.ttl, self.failure_ttl, self.clock = ttl, failure_ttl, clock
        self._entries: dict[tuple, tuple[float, _Listing]] = {}
        self._lock = threading.Lock()

    def get(self, server: McpServerConfig) -> _Listing | None:
        with self._lock:
            held = self._entries.get(_key(server))
        if held is None or held[0] <= self.clock():
            return None
        return held[1]

    def put(self, server: McpServerConfig, listing: _Listing) -> None:
        keep = self.ttl if listing[0].available else self.failure_ttl
        with self._lock:
            self._entries[_key(server)] = (self.clock() + keep, listing)

    def forget(self, server: McpServerConfig) -> None:
        with self._lock:
            self._entries.pop(_key(server), None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


SHARED_LISTS = ToolListCache()


def _key(server: McpServerConfig) -> tuple:
    """The cache key: the token and a stdio server's env only as a short hash, so no secret sits in the keys."""
    secrets = [server.token or "", *sorted(f"{k}={v}" for k, v in server.env.items())]
    fingerprint = hashlib.sha256("\0".join(secrets).encode()).hexdigest()[:16] if any(secrets) else ""
    return server.name, server.target, server.timeout, fingerprint


@dataclass
class RemoteTools:
    """The remote servers' statuses (in config order) and the tools of those that answered."""

    statuses: list[McpServerStatus] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)

    @property
    def unavailable(self) -> list[McpServerStatus]:
        return [s for s in self.statuses if not s.available]


def server_names(config: AppConfig) -> list[str]:
    """The names of the remote MCP servers this config names (no connection is made)."""
    return ([HF_SERVER] if config.mcp_url else []) + [s.name for s in config.mcp_servers]


def remote_tools(config: AppConfig, *, session_hf_token: str | None = None, hosted: bool = False,
                 session_cache: ToolListCache | None = None, refresh: bool = False,
                 runner: AsyncRunner | None = None) -> RemoteTools:
    """The tools of every configured remote MCP server, as registry entries named `<server>.<tool>`.

    `session_hf_token` is this session's own HF token (None: the shared one, unless `hosted`). Listings
    are taken from the caches when fresh; `refresh=True` asks every server again."""
    servers = mcp_server_configs(config, hf_token=session_hf_token, use_shared_hf_token=not hosted)
    listings: list[_Listing | None] = []
    caches: list[ToolListCache] = []
    for server in servers:
        personal = server.name == HF_SERVER and session_hf_token is not None
        cache = (session_cache if session_cache is not None else ToolListCache()) if personal else SHARED_LISTS
        if refresh:
            cache.forget(server)
        caches.append(cache)
        listings.append(cache.get(server))
    missing = [i for i, listing in enumerate(listings) if listing is None]
    for i, listing in zip(missing, probe_servers([servers[i] for i in missing], runner=runner), strict=True):
        caches[i].put(servers[i], listing)
        listings[i] = listing
    result = RemoteTools()
    for server, (status, listed) in zip(servers, listings, strict=True):   # type: ignore[misc]
        result.statuses.append(status)
        owners_token = server.token is not None and not (server.name == HF_SERVER and session_hf_token)
        connection = McpConnection(server, runner)
        for tool in (remote_tool(connection, r) for r in listed):
            if tool is not None and not (hosted and owners_token and tool.mutating):
                result.tools.append(tool)
    return result
