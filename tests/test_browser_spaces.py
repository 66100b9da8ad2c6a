"""The Spaces page in a real browser against the fake Hub: search and a model's details, then create a
Space, push a file, read its build logs, delete it by typing its id, and the MCP tab. Screenshots go to
test-artifacts/spaces-*.png."""

from __future__ import annotations

import pytest

from tests.browser import (
    browser_page,
    nav,
    no_exception_boxes,
    require_browser,
    screenshot,
    streamlit_server,
    wait_idle,
)
from tests.fake_hub import FakeHub

sync_api = require_browser()
expect = sync_api.expect

TOKEN = "hf_BROWSERwrite00000000-a1b2"
SPACE = "alice/browser-demo"


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as fake:
        fake.add_token(TOKEN, user="alice")
        yield fake


@pytest.fixture(scope="module")
def base_url(hub, tmp_path_factory):
    db = tmp_path_factory.mktemp("browser-spaces") / "spaces_os.db"
    env = {"SPACES_OS_DB": str(db), "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN,
           "SPACES_OS_HF_ROUTER_URL": hub.router_url, "OPENROUTER_API_KEY": "", "OPENROUTER_KEY": "",
           "AGENTIC_CONFIG": ""}
    with streamlit_server(env) as base:
        yield base


def click_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def test_search_create_push_logs_delete(base_url, hub):
    with browser_page(sync_api) as page:
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            (base_url, "data:", "blob:", "about:")) else None)
        page.set_viewport_size({"width": 1400, "height": 1500})     # Streamlit scrolls inside: show more
        page.goto(base_url + "/")
        # The legacy pages/ list shows until Home.py's st.navigation has run: wait for Home first.
        expect(page.get_by_role("heading", name="Spaces OS")).to_be_visible(timeout=30000)
        nav(page, "Spaces")
        expect(page.get_by_role("heading", name="Spaces").first).to_be_visible(timeout=30000)
        expect(page.get_by_text("shared token")).to_be_visible()

        # Search models, then open the first row's details.
        page.get_by_role("radio", name="Models", exact=True).click()
        expect(page.get_by_label("Inference provider")).to_be_visible(timeout=10000)
        wait_idle(page)
        page.get_by_role("textbox", name="Search for").fill("llama")
        page.get_by_test_id("stFormSubmitButton").get_by_role("button", name="Search").click()
        expect(page.get_by_text("Page 1 · results 1–1")).to_be_visible(timeout=15000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 18, box["y"] + 35 + 17)          # the row's selection box
        expect(page.get_by_role("heading", name="Inference providers")).to_be_visible(timeout=15000)
        page.wait_for_timeout(800)
        no_exception_boxes(page)
        screenshot(page, "spaces-01-search")
        assert hub.requests_to("GET", "/router/v1/models/meta-llama/Llama-3.1-8B-Instruct")

        # Create a Docker + Streamlit Space (private by default).
        click_tab(page, "My Spaces")
        expect(page.get_by_text("You have no Spaces yet")).to_be_visible(timeout=15000)
        wait_idle(page)
        page.get_by_role("textbox", name="Name", exact=True).fill("browser-demo")
        page.get_by_role("button", name="Create Space").click()
        expect(page.get_by_text(f"Created {SPACE}")).to_be_visible(timeout=20000)
        page.wait_for_timeout(500)
        no_exception_boxes(page)
        screenshot(page, "spaces-02-created")
        assert hub.last("POST", "/api/repos/create").json()["visibility"] == "private"
        assert hub.space(SPACE).private and "Dockerfile" in hub.space(SPACE).files

        # Push one file from the editor.
        click_tab(page, "Files")
        wait_idle(page)             # the tab's rerun: text typed before it lands can be replaced by it
        content = page.get_by_label("Content").first
        content.fill("import streamlit as st\n\nst.title('Hello from the browser')\n")
        content.press("Tab")
        wait_idle(page)
        expect(content).to_have_value("import streamlit as st\n\nst.title('Hello from the browser')\n")
        page.get_by_role("textbox", name="Commit message").fill("Say hello")
        page.get_by_role("button", name="Push in one commit").click()
        expect(page.get_by_text("Pushed app.py")).to_be_visible(timeout=20000)
        no_exception_boxes(page)
        screenshot(page, "spaces-03-push")
        assert hub.space(SPACE).commits[-1]["summary"] == "Say hello"
        assert hub.space(SPACE).files["app.py"] == b"import streamlit as st\n\nst.title('Hello from the browser')\n"

        # Read the build logs.
        click_tab(page, "Logs")
        page.get_by_role("button", name="Show logs").click()
        expect(page.get_by_text("the stream ended")).to_be_visible(timeout=20000)
        expect(page.locator('[data-testid="stCode"]').last).to_contain_text("DONE 12.3s")
        no_exception_boxes(page)
        screenshot(page, "spaces-04-logs")

        # Delete it: refused until the id is typed.
        click_tab(page, "Delete")
        page.get_by_role("button", name="Delete this Space").click()
        expect(page.get_by_text("exactly to confirm; nothing was deleted")).to_be_visible(timeout=15000)
        assert SPACE in hub.spaces
        wait_idle(page)
        page.get_by_role("textbox", name=f"Type {SPACE} to confirm").fill(SPACE)
        page.get_by_role("button", name="Delete this Space").click()
        expect(page.get_by_text(f"Deleted {SPACE}")).to_be_visible(timeout=20000)
        no_exception_boxes(page)
        screenshot(page, "spaces-05-deleted")
        assert SPACE not in hub.spaces

        click_tab(page, "MCP")
        expect(page.get_by_text("Hub tools (13)")).to_be_visible(timeout=15000)
        page.wait_for_timeout(500)
        no_exception_boxes(page)
        screenshot(page, "spaces-06-mcp")

        assert TOKEN not in page.content()
        assert outside == [], f"the page reached beyond 127.0.0.1: {outside[:5]}"
