"""API tokens: console access tokens for the HTTP API (README "Use it as an API"). Each is shown once."""

import streamlit as st

from core.app.gateway.tokens import SCOPES, TokenService, TokenSpec
from core.app.widgets import require_services, session_context

svc = require_services(needs_router=False)
ctx = session_context(svc)
st.title("🔐 API tokens")
st.caption("Tokens let scripts, SDKs and editors use this console's shared keys through `/v1/chat/completions` "
           "and `/api/…`. Each token is shown once and stored only as a hash.")
if svc.hosted and not ctx.operator:
    st.info("Only the operator can create tokens here. Sign in with the operator token in the sidebar.")
    st.stop()

tokens = TokenService(svc.store)
with st.form("new_token", clear_on_submit=True):
    name = st.text_input("Name", placeholder="ci, my laptop, Continue…")
    scopes = st.multiselect("Scopes", SCOPES, default=["chat"])
    providers = st.multiselect("Allowed providers (none: all)", [p.name for p in svc.config.providers]
                               if svc.config else [])
    c1, c2, c3, c4 = st.columns(4)
    rpm = c1.number_input("Requests / minute", min_value=0, value=30, help="0: no limit")
    tpd = c2.number_input("Tokens / day", min_value=0, value=200_000, step=10_000, help="0: no limit")
    usd = c3.number_input("USD / day", min_value=0.0, value=1.0, step=0.5, help="0: no limit")
    days = c4.number_input("Expires in days", min_value=0, value=30, help="0: never")
    if st.form_submit_button("Create token", type="primary"):
        try:
            issued = tokens.create(TokenSpec(name, tuple(scopes), tuple(providers), int(rpm) or None,
                                             int(tpd) or None, float(usd) or None, float(days) or None))
        except ValueError as e:
            st.error(str(e))
        else:
            st.success(f"Token **{issued.grant.name}** created. Copy it now: it is not shown again.")
            st.code(issued.token, language=None)

listed = tokens.listed()
if listed:
    st.dataframe(listed, hide_index=True, width="stretch")
    live = [t["id"] for t in listed if t["state"] == "live"]
    if live:
        c1, c2 = st.columns([3, 1])
        chosen = c1.selectbox("Revoke", live, format_func=lambda i: next(f"{t['name']} ({i})" for t in listed
                                                                          if t["id"] == i))
        if c2.button("Revoke token"):
            tokens.revoke(chosen)
            st.rerun()
else:
    st.caption("No tokens yet.")
