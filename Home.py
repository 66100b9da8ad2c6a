"""Spaces OS: the entrypoint. Builds the navigation and the shared sidebar, and starts the session."""

import streamlit as st

from core.app.widgets import init_session, show_store_error
from core.errors import StoreError

st.set_page_config(page_title="Spaces OS", page_icon="🛰️", layout="wide")

pages = st.navigation([
    st.Page("pages/overview.py", title="Home", icon="🏠", default=True),
    st.Page("pages/chat.py", title="Chat", icon="💬", url_path="chat"),
    st.Page("pages/routing.py", title="Routing", icon="🔀", url_path="routing"),
    st.Page("pages/providers.py", title="Providers", icon="🔑", url_path="providers"),
    st.Page("pages/spaces.py", title="Spaces", icon="🚀", url_path="spaces"),
    st.Page("pages/metrics.py", title="Metrics", icon="📈", url_path="metrics"),
    st.Page("pages/how_it_works.py", title="How it works", icon="📖", url_path="how-it-works"),
])
try:                    # a failing database is a readable page on every page, never a traceback
    init_session()
    pages.run()
except StoreError as e:
    show_store_error(e)
