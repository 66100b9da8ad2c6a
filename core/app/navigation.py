"""The console's navigation is always Home.py's `st.navigation`, never Streamlit's `pages/` folder mode.

Streamlit decides once per process whether the app is a "pages directory" app (a `pages/` folder beside the
main script) and keeps that until some session runs `st.navigation`. Until then a deep link such as `/chat`,
opened before anyone visited `/`, runs `pages/chat.py` alone: no console menu, no wide layout, no session
setup, and the browser tab titled "chat". Home.py calls `navigation_only()` when Streamlit imports it for app
discovery at server start, so every session, the first one included, goes through Home.py.
"""

from __future__ import annotations


def navigation_only() -> None:
    """Tell Streamlit this app never uses the `pages/` folder mode (see the module docstring)."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
