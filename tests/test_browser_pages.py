"""Every page in a real browser, in demo mode with some traffic: no exception box, no vis-network option
warnings, the How it works page in the navigation, and a screenshot of each in test-artifacts/page-*.png."""

from __future__ import annotations

import pytest

from tests.browser import browser_page, nav, no_exception_boxes, require_browser, screenshot, streamlit_server

sync_api = require_browser()
expect = sync_api.expect
PAGES = ("Home", "Chat", "Routing", "Providers", "Spaces", "Metrics", "How it works", "API tokens")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-pages")
    env = {"SPACES_OS_DB": str(folder / "spaces_os.db"), "HF_TOKEN": "", "OPENROUTER_API_KEY": "",
           "OPENROUTER_KEY": "", "AGENTIC_CONFIG": "", "HF_ENDPOINT": "http://127.0.0.1:9"}
    with streamlit_server(env) as base:
        yield base


def test_every_page_renders_and_is_photographed(base_url):
    with browser_page(sync_api) as page:
        console = []
        page.on("console", lambda m: console.append(m.text))
        page.goto(base_url + "/")
        expect(page.get_by_role("heading", name="Spaces OS")).to_be_visible(timeout=30000)
        nav(page, "Chat")
        box = page.locator('[data-testid="stChatInput"] textarea')
        box.fill("What's 2+2?")
        box.press("Enter")
        expect(page.locator('[data-testid="stChatMessage"]').last).to_contain_text("2 + 2 = 4", timeout=20000)
        for title in PAGES:
            nav(page, title)
            page.set_viewport_size({"width": 1400, "height": 2600 if title == "Metrics" else 1000})
            if title == "Metrics":      # the six charts, drawn
                expect(page.locator('[data-testid="stPlotlyChart"] .main-svg').nth(5)).to_be_attached(timeout=30000)
            page.wait_for_timeout(2500)
            no_exception_boxes(page)
            screenshot(page, "page-" + title.lower().replace(" ", "-"))
        assert not [m for m in console if "Unknown option" in m], [m for m in console if "Unknown option" in m]
