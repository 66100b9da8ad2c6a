"""Streamlit pieces every page shares: the cached services, this session's state, the sidebar with
key status, the demo banner and friendly error boxes.

Streamlit is imported in `core/` only here, in `widgets_graph.py` and in the `spaces_page/` package
(the Spaces page's tabs); everything else in `core/` is tested without it. Keys live only in
`st.session_state` (per browser session), never in `st.cache_resource` (shared by all sessions).
"""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from core.app.services import Services, build_services
from core.llm.budget import visitor_identity
from core.llm.keys import mask, session_hash


@st.cache_resource(show_spinner="Starting Spaces OS…")
def _services() -> Services:
    return build_services()


def services() -> Services:
    return _services()


def init_session() -> dict[str, Any]:
    """Create this browser session's state once: an id, its keys, its chat and its settings."""
    ss = st.session_state
    ss.setdefault("session_id", uuid.uuid4().hex)
    ss.setdefault("keys", {})              # provider name -> BYOK key, this session only
    ss.setdefault("overrides", {})         # provider name -> {priority, fallback, always_use_this_key, enabled}
    ss.setdefault("messages", [])          # chat history with routing facts
    ss.setdefault("task_ids", [])          # background tasks started in this session
    return ss


def identity(svc: Services) -> str:
    """Who this session is for routing and budgets. Hosted: the visitor (stable across reloads, hashed
    before storage); locally: this browser session."""
    ss = init_session()
    if not svc.hosted:
        return ss["session_id"]
    headers = st.context.headers or {}
    forwarded = (headers.get("x-forwarded-for") or "").split(",")[0].strip()
    return visitor_identity(forwarded or st.context.ip_address, headers.get("user-agent"), ss["session_id"])


def set_key(svc: Services, provider: str, key: str | None) -> None:
    """Set or clear one key for this session; the audit log records that it happened, never the key."""
    ss = init_session()
    keys = {k: v for k, v in ss["keys"].items() if k != provider}
    if key:
        keys[provider] = key
    ss["keys"] = keys
    svc.store.record_audit("key_set" if key else "key_cleared", session=session_hash(identity(svc)),
                           detail=f"provider {provider}")


def session_keys() -> dict[str, str]:
    return {k: v for k, v in st.session_state.get("keys", {}).items() if v}



def show_config_error(svc: Services) -> None:
    """The readable page shown instead of a traceback when the config cannot be loaded."""
    st.error(f"**The provider config could not be loaded.**\n\n{svc.config_error}", icon="⚠️")
    st.markdown(
        "**What to do:** fix the file named above (or point `AGENTIC_CONFIG` at a good one) and reload "
        "the page. Until then no provider can be used. The expected shapes are shown in the README "
        "under *Provider config*."
    )


def require_services() -> Services:
    """Services for a page, or a readable error and a stop."""
    init_session()
    svc = services()
    if not svc.ok:
        show_config_error(svc)
        st.stop()
    sidebar(svc)
    return svc


def demo_banner(svc: Services) -> None:
    if svc.router is not None and svc.router.is_demo(session_keys()):
        st.info("**Demo mode.** No provider has a key, so answers come from the built-in offline demo model "
                "and are labelled DEMO. Add a Hugging Face (`hf_…`) or OpenRouter (`sk-or-…`) key on the "
                "**Providers** page to use real models; it stays in this browser session only.", icon="🧪")


def sidebar(svc: Services) -> None:
    """Key status for this session and the clear-my-keys button. Drawn by every page at its start: key
    changes arrive through widget callbacks, which run before the script, so it is never stale."""
    ss = init_session()
    with st.sidebar:
        st.markdown("#### This session's keys")
        names = [p.name for p in svc.config.providers if p.kind != "demo"] if svc.config else []
        if not names:
            st.caption("No providers configured.")
        for name in names:
            key = ss["keys"].get(name)
            st.markdown(f"- **{name}**: {'`' + mask(key) + '`' if key else 'not set'}")
        if ss["keys"]:
            if st.button("Clear my keys", key="clear_keys", help="Forget every key this session holds",
                         width="stretch"):
                for provider in list(ss["keys"]):
                    set_key(svc, provider, None)
                st.toast("Your keys were cleared from this session.")
                st.rerun()
        else:
            st.caption("Keys you add on **Providers** stay in this browser tab's session only.")
        if svc.router is not None and svc.router.is_demo(session_keys()):
            st.caption("🧪 Demo mode: offline model")
