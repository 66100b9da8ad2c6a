"""Spaces OS: the entrypoint. Builds the navigation and the shared sidebar, and starts the session.

`streamlit run Home.py` imports this module once to find `app` (Streamlit's app discovery): the console plus
the HTTP API (core/app/gateway) on the same port. Each browser session then runs it as the script (`__main__`).
"""

import streamlit as st

if __name__ != "__main__":      # imported for discovery: the routes beside the UI, no UI calls at import
    from core.app.gateway import gateway_lifespan, gateway_middleware
    from core.app.navigation import navigation_only

    navigation_only()           # a deep link opened before anyone visited / still runs through this file
    app = st.App("Home.py", middleware=gateway_middleware(), lifespan=gateway_lifespan)  # lifespan: /mcp's sessions
else:
    from core.app.widgets import init_session, show_store_error, sidebar_menu
    from core.errors import ConfigError, StoreError

    st.set_page_config(page_title="Spaces OS", page_icon="🛰️", layout="wide")

    menu = [
        st.Page("pages/overview.py", title="Home", icon="🏠", default=True),
        st.Page("pages/chat.py", title="Chat", icon="💬", url_path="chat"),
        st.Page("pages/routing.py", title="Routing", icon="🔀", url_path="routing"),
        st.Page("pages/providers.py", title="Providers", icon="🔑", url_path="providers"),
        st.Page("pages/spaces.py", title="Spaces", icon="🚀", url_path="spaces"),
        st.Page("pages/metrics.py", title="Metrics", icon="📈", url_path="metrics"),
        st.Page("pages/how_it_works.py", title="How it works", icon="📖", url_path="how-it-works"),
        st.Page("pages/api_tokens.py", title="API tokens", icon="🔐", url_path="api-tokens"),
    ]
    # Our own menu (page links): with client.showSidebarNavigation off, Streamlit never shows its automatic
    # list of pages/ files (before this ran, or while the server is down), nor a built-in menu.
    pages = st.navigation(menu, position="hidden")
    sidebar_menu(menu)
    try:                    # a failing database is a readable page on every page, never a traceback
        init_session()
        pages.run()
    except (StoreError, ConfigError) as e:     # ConfigError here: a database setting (provider config: banner)
        show_store_error(e)
