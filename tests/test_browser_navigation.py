"""The sidebar menu in a real browser: st.navigation's own (Home, Chat, …, How it works) when the server
is up, and never Streamlit's automatic list of `pages/` files (lowercase, with an "overview"): not on a
deep link opened before Home.py ever ran in the process (that link gets the console's own menu), and not
after the server stopped."""

from __future__ import annotations

import os
import signal

import pytest

from tests.browser import MENU_LINKS, browser_page, require_browser, screenshot, streamlit_server

sync_api = require_browser()
expect = sync_api.expect
# The pages/ file names as Streamlit's automatic list writes them (lowercase; the console's menu capitalises).
AUTO_LIST = ("overview", "chat", "routing", "providers", "spaces", "metrics", "how it works", "api tokens")


def nav_texts(page) -> list[str]:
    """Every link of a sidebar menu: the console's own, and Streamlit's automatic one if it showed."""
    links = page.locator(f'{MENU_LINKS}, [data-testid="stSidebarNav"] a')
    return [t.strip().split("\n")[-1].strip() for t in links.all_inner_texts()]


@pytest.fixture
def env(tmp_path):
    return {"SPACES_OS_DB": str(tmp_path / "spaces_os.db"), "HF_TOKEN": "", "OPENROUTER_API_KEY": "",
            "OPENROUTER_KEY": "", "AGENTIC_CONFIG": "", "HF_ENDPOINT": "http://127.0.0.1:9"}


def test_a_deep_link_before_home_ran_shows_no_automatic_pages_list(env):
    with streamlit_server(env) as base, browser_page(sync_api) as page:
        page.goto(base + "/spaces")          # the first session of this server: Home.py has never run
        expect(page.get_by_role("heading", name="Spaces").first).to_be_visible(timeout=30000)
        # The page ran through Home.py, not alone from pages/: the console's menu, tab title and session.
        expect(page.locator(MENU_LINKS, has_text="How it works")).to_be_visible(timeout=30000)
        texts = nav_texts(page)
        assert not [t for t in texts if t in AUTO_LIST], texts
        assert page.title() == "Spaces OS"
        screenshot(page, "nav-1-deep-link")
        page.goto(base + "/")                # once Home.py runs: the console's own menu
        expect(page.locator(MENU_LINKS, has_text="How it works")).to_be_visible(timeout=30000)
        assert nav_texts(page) == ["Home", "Chat", "Routing", "Providers", "Spaces", "Metrics", "How it works",
                                   "API tokens"]


def test_the_automatic_pages_list_does_not_appear_when_the_server_stops(env):
    with streamlit_server(env) as base, browser_page(sync_api) as page:
        page.goto(base + "/")
        expect(page.get_by_role("heading", name="Spaces OS")).to_be_visible(timeout=30000)
        expect(page.locator(MENU_LINKS, has_text="Routing")).to_be_visible()
        os.killpg(base.pgid, signal.SIGTERM)          # only the server this test started
        expect(page.get_by_text("Connecting").or_(page.get_by_text("Connection error")).first).to_be_visible(
            timeout=30000)
        page.wait_for_timeout(1500)
        screenshot(page, "nav-2-server-down")
        texts = nav_texts(page)
        assert not [t for t in texts if t in AUTO_LIST], texts
