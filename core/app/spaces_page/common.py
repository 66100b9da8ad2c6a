"""Streamlit helpers every tab of the Spaces page shares: the per-run context, error boxes, tables
and the message kept across the rerun that follows a change on the Hub."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from core.app.services import Services
from core.app.session import SessionContext
from core.app.views.spaces import HubToken, TableColumn, choose_hub_token, error_text, forget, session_clients
from core.hub.client import HubClient
from core.hub.errors import HubActionError
from core.hub.spaces import SpaceManager


@dataclass(frozen=True)
class SpacesPageContext:
    """What the page sets up on each run and every tab works with: the services, this session's Hub
    clients and token, its identity, and the inference router that prices models (None: the default)."""

    svc: Services
    session: SessionContext
    hub: HubClient
    spaces: SpaceManager
    token: HubToken
    who: str
    router_url: str | None


def spaces_page_context(svc: Services, session: SessionContext) -> SpacesPageContext:
    """This run's Hub clients for the session: its own HF token, else the shared one (never when hosted)."""
    ss = st.session_state
    # Widget values the previous run asked to clear; assigning (not popping) also clears the browser's copy.
    for widget, empty in ss.pop("spaces_reset", {}).items():
        ss[widget] = empty
    router_url = os.environ.get("SPACES_OS_HF_ROUTER_URL") or None
    providers = svc.config.providers if svc.config else []
    token = choose_hub_token(providers, session.keys, hosted=svc.hosted)
    hub, spaces = session_clients(session.cache, endpoint=svc.hub_endpoint, token=token, router_url=router_url,
                                  store=svc.store, session=session.identity,
                                  max_upload_bytes=svc.policy.max_upload_bytes)
    return SpacesPageContext(svc=svc, session=session, hub=hub, spaces=spaces, token=token, who=session.identity,
                             router_url=router_url)


def show_error(err: HubActionError) -> None:
    st.error(error_text(err), icon="⚠️")


def column_config(columns: list[TableColumn]) -> dict[str, Any]:
    config = {}
    for c in columns:
        if c.kind == "link":
            config[c.key] = st.column_config.LinkColumn(c.label, width=c.width, help=c.help, display_text=c.display)
        elif c.kind == "number":
            config[c.key] = st.column_config.NumberColumn(c.label, width=c.width, help=c.help, format="compact")
        else:
            config[c.key] = st.column_config.TextColumn(c.label, width=c.width, help=c.help)
    return config


def table(rows: list[dict], columns: list[TableColumn], **kwargs: Any) -> Any:
    frame = pd.DataFrame(rows, columns=[c.key for c in columns])
    return st.dataframe(frame, column_config=column_config(columns), hide_index=True, width="stretch", **kwargs)


def changed(where: str, text: str, *reads: str, kind: str = "success") -> None:
    """After a change on the Hub: drop the stale reads, keep a message for `where`, and rerun."""
    ss = st.session_state
    forget(ss, "my_spaces", *reads)
    ss["spaces_flash"] = (where, kind, text)
    st.rerun()


def show_flash(where: str) -> None:
    ss = st.session_state
    flash = ss.get("spaces_flash")
    if flash and flash[0] == where:
        ss.pop("spaces_flash")
        {"success": st.success, "warning": st.warning, "error": st.error}[flash[1]](flash[2])
