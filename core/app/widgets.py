"""Streamlit pieces every page shares: the cached services, this session's state, the sidebar with
key status, the demo banner and friendly error boxes.

Streamlit is imported in `core/` only here, in `widgets_graph.py` and in the `spaces_page/` package
(the Spaces page's tabs); everything else in `core/` is tested without it. Keys live only in
`st.session_state` (per browser session), never in `st.cache_resource` (shared by all sessions).
"""

from __future__ import annotations

import uuid

import streamlit as st

from core.app.services import ServiceRoot, Services
from core.app.session import SessionContext, proxy_client_address
from core.app.views import home as home_views
from core.errors import ConfigError, StoreError
from core.llm.budget import visitor_identity
from core.llm.keys import mask


@st.cache_resource(show_spinner="Starting Spaces OS…")
def _root() -> ServiceRoot:
    return ServiceRoot.shared()      # the same root again if the cache is cleared: no second manager


def services() -> Services:
    """This page run's services: rebuilt by the root when the config file changed."""
    return _root().current()


def visitor_address() -> str | None:
    return proxy_client_address(st.context.headers or {}, st.context.ip_address)


def session_context(svc: Services) -> SessionContext:
    """This browser session's context, built here and only here. Hosted: the identity is the visitor's
    address (stable across reloads and browsers on one address; hashed before storage). Locally: this
    browser session, which is also the operator."""
    ss = st.session_state
    ss.setdefault("session_id", uuid.uuid4().hex)
    operator = svc.policy.is_operator(ss.get("operator_token"))
    if not svc.hosted:
        return SessionContext(ss, hosted=False, operator=operator)
    return SessionContext(ss, visitor_identity(visitor_address(), None, ss["session_id"]), hosted=True,
                          operator=operator)


def sidebar_menu(pages: list) -> None:
    """The console's menu at the top of the sidebar: one link per page (st.navigation's own list is hidden,
    see .streamlit/config.toml)."""
    with st.sidebar.container(key="menu"):
        for page_ in pages:
            st.page_link(page_)
        st.divider()


def init_session() -> SessionContext:
    """Create this browser session's state once (Home calls it before the navigation)."""
    return session_context(services())


def show_config_error(svc: Services) -> None:
    """The readable page shown instead of a traceback when the config cannot be loaded."""
    st.error(f"**The provider config could not be loaded.**\n\n{svc.config_error}", icon="⚠️")
    st.markdown(
        "**What to do:** fix the file named above (or point `AGENTIC_CONFIG` at a good one) and reload "
        "the page. Until then no provider can be used. The expected shapes are shown in the README "
        "under *Provider config*."
    )


def show_store_error(error: StoreError | ConfigError) -> None:
    """The readable page shown instead of a traceback when the database fails or one of its settings is
    wrong (Home.py catches both for every page): what happened, where, and what to do."""
    what = "is not working" if isinstance(error, StoreError) else "could not be opened: a setting is wrong"
    st.error(f"**The database {what}.**\n\n{error}", icon="🗄️")
    st.caption("Chat, tasks and metrics need it; reload the page once it is fixed.")


def database_problem(svc: Services) -> str | None:
    """One line for Home when the database is failing or usage rows were lost, else None."""
    return svc.store.health().message


def database_line(svc: Services) -> None:
    """Home's database line: backend, where, schema version and latency, or an error saying why it does not answer."""
    answers, line = home_views.database_line(svc.store.probe())
    if answers:
        st.caption(line)
    else:
        st.error(line, icon="🗄️")


def require_services(*, needs_router: bool = True) -> Services:
    """Services for a page. A broken config stops pages that need a provider with a readable error;
    the others go on under a banner; a database that cannot be opened stops every page with its plain words."""
    try:
        svc = services()
    except (StoreError, ConfigError) as e:      # ConfigError: a database setting, e.g. SPACES_OS_DB_POOL
        show_store_error(e)
        st.stop()
    if svc.reloaded:
        svc.reloaded = False
        st.toast("The config changed on disk and was loaded again.", icon="🔄")
    if not svc.ok:
        if needs_router:
            show_config_error(svc)
            st.stop()
        st.warning(f"**The provider config could not be loaded**, so chat and routing are off; this page "
                   f"works without them.\n\n{svc.config_error}", icon="⚠️")
    sidebar(svc, session_context(svc))
    return svc


def page() -> tuple[Services, SessionContext]:
    """What every page starts with: the services and this session's context."""
    svc = require_services()
    return svc, session_context(svc)


def demo_banner(svc: Services, ctx: SessionContext) -> None:
    if svc.router is not None and svc.router.is_demo(ctx.keys):
        reason = svc.chat.demo_reason(ctx)
        st.info(f"**Demo mode** ({reason}): answers come from the built-in offline demo model and are "
                "labelled DEMO. Add a Hugging Face (`hf_…`) or OpenRouter (`sk-or-…`) key on the "
                "**Providers** page to use real models; it stays in this browser session only.", icon="🧪")


def sidebar(svc: Services, ctx: SessionContext) -> None:
    """Key status for this session and the clear-my-keys button. Drawn by every page at its start: key
    changes arrive through widget callbacks, which run before the script, so it is never stale."""
    with st.sidebar:
        st.markdown("#### This session's keys")
        configs = svc.providers.configs
        if not configs:
            st.caption("No providers configured.")
        keys = ctx.keys
        for cfg in configs:
            key = keys.get(cfg.name)
            st.markdown(f"- **{cfg.name}**: {'`' + mask(key) + '`' if key else 'not set'}")
        if keys:
            if st.button("Clear my keys", key="clear_keys", help="Forget every key this session holds",
                         width="stretch"):
                svc.providers.forget_all(ctx)
                st.toast("Your keys were cleared from this session.")
                st.rerun()
        else:
            st.caption("Keys you add on **Providers** stay in this browser tab's session only.")
        if svc.router is not None and svc.router.is_demo(keys):
            st.caption("🧪 Demo mode: offline model")
        if svc.policy.operator_sign_in:
            with st.expander("Operator", expanded=False):
                st.text_input("Operator token", type="password", key="operator_token",
                              help="Shows every visitor's tasks, decisions and usage. Set by "
                                   "SPACES_OS_OPERATOR_TOKEN.")
                st.caption("Signed in: all sessions" if ctx.operator else "Visitor view: your own work only")
