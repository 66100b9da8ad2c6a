"""One session's context: who it is, its own keys, its provider settings and whether it is hosted.

Built in one place (`core.app.widgets.session_context` for the pages, `SessionContext.ephemeral` for
scripts and the API) and passed to every application service, so no page reassembles it.

    ctx = SessionContext.ephemeral(identity="alice")
    ctx.set_settings("openrouter", ProviderSettings(enabled=False))
    router.chat(messages, **ctx.route_options())      # keys, session and per-provider overrides

Keys live only in the mapping the context wraps (Streamlit's per-browser `session_state`); the
context never writes them anywhere else and never shows them in its `repr`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, MutableMapping
from dataclasses import asdict, dataclass
from typing import Any

from core.llm.config import ProviderConfig
from core.llm.keys import mask, session_hash

_KEYS, _SETTINGS, _ID = "keys", "provider_settings", "session_id"
_MESSAGES, _TASKS, _PENDING = "messages", "task_ids", "pending_tool"


def proxy_client_address(headers: Mapping[str, str], peer: str | None) -> str | None:
    """Who a hosted visitor is: the address the Space's proxy appended as the LAST `X-Forwarded-For`
    hop. Earlier hops are whatever the client sent, and the User-Agent is the client's to change, so
    neither takes part: a visitor gets a fresh identity (and budget) only from a new address."""
    forwarded = next((v for k, v in headers.items() if k.lower() == "x-forwarded-for"), "") or ""
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    return hops[-1] if hops else peer if isinstance(peer, str) and peer else None


@dataclass(frozen=True)
class ProviderSettings:
    """How this session wants one provider used; starts from the config's values."""

    enabled: bool = True
    priority: int | None = None      # lower is tried first; None: after the ranked ones, in config order
    fallback: bool = True            # may serve when the first choice fails
    always_use_this_key: bool = False

    @classmethod
    def from_config(cls, cfg: ProviderConfig) -> ProviderSettings:
        return cls(True, cfg.priority, cfg.fallback, cfg.always_use_this_key)


class SessionContext:
    """A session's identity, keys and settings over a mutable mapping it owns a few entries of."""

    def __init__(self, state: MutableMapping[str, Any], identity: str | None = None, *, hosted: bool = False,
                 operator: bool = False):
        self._state = state
        state.setdefault(_ID, uuid.uuid4().hex)
        state.setdefault(_KEYS, {})
        state.setdefault(_SETTINGS, {})
        state.setdefault(_MESSAGES, [])
        state.setdefault(_TASKS, [])
        self.identity = identity or state[_ID]     # who this is for routing, budgets and ownership
        self.hosted = hosted
        self.operator = operator                   # may see and control every session's work

    @classmethod
    def ephemeral(cls, identity: str | None = None, keys: Mapping[str, str] | None = None,
                  **kwargs: Any) -> SessionContext:
        """A context over a fresh dict: for scripts, tests and one API request."""
        ctx = cls({}, identity, **kwargs)
        ctx._state[_KEYS] = {k: v for k, v in (keys or {}).items() if v}
        return ctx

    def __repr__(self) -> str:
        shown = {name: mask(key) for name, key in self.keys.items()}
        return f"SessionContext(identity={self.identity!r}, keys={shown}, hosted={self.hosted})"

    # ------------------------------------------------------------------ identity

    @property
    def session_id(self) -> str:
        return self._state[_ID]

    @property
    def session_hash(self) -> str | None:
        """How this session is stored: a hash, never the identity itself."""
        return session_hash(self.identity)

    def owns(self, stored_session: str | None) -> bool:
        """May this session see and control work stored under `stored_session` (a hash)?"""
        return self.operator or (stored_session is not None and stored_session == self.session_hash)

    # ------------------------------------------------------------------ keys

    @property
    def keys(self) -> dict[str, str]:
        """This session's own keys by provider name (a copy)."""
        return {k: v for k, v in self._state[_KEYS].items() if v}

    def key(self, provider: str) -> str | None:
        return self._state[_KEYS].get(provider) or None

    def store_key(self, provider: str, key: str | None) -> None:
        """Keep or forget one key. Callers check the key first (`ProviderService.set_key`)."""
        keys = {k: v for k, v in self._state[_KEYS].items() if k != provider}
        if key:
            keys[provider] = key
        self._state[_KEYS] = keys

    # ------------------------------------------------------------------ per-provider settings

    def settings(self, cfg: ProviderConfig) -> ProviderSettings:
        """This session's settings for a provider: its own change, else the config's values."""
        mine = self._state[_SETTINGS].get(cfg.name)
        return ProviderSettings(**mine) if mine else ProviderSettings.from_config(cfg)

    def set_settings(self, provider: str, settings: ProviderSettings) -> None:
        self._state[_SETTINGS] = {**self._state[_SETTINGS], provider: asdict(settings)}

    def overrides(self) -> dict[str, dict[str, Any]]:
        """The router's `overrides=`: only providers this session changed."""
        return {name: dict(values) for name, values in self._state[_SETTINGS].items()}

    def route_options(self) -> dict[str, Any]:
        """Keyword arguments every routed call of this session carries."""
        return {"keys": self.keys, "session": self.identity, "overrides": self.overrides() or None}

    # ------------------------------------------------------------------ conversation

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat history with its routing facts (the live list: append to it)."""
        return self._state[_MESSAGES]

    @property
    def task_ids(self) -> list[str]:
        """Background tasks this session started, oldest first (the live list)."""
        return self._state[_TASKS]

    @property
    def pending_tool(self) -> Any:
        """A tool call waiting for this session's confirmation, or None."""
        return self._state.get(_PENDING)

    @pending_tool.setter
    def pending_tool(self, value: Any) -> None:
        self._state[_PENDING] = value

    @property
    def cache(self) -> MutableMapping[str, Any]:
        """Per-session storage for this session's own clients and caches (never a process-wide cache)."""
        return self._state
