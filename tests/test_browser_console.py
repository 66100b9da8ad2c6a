"""The console in a real browser: chat in demo mode, watch the reply stream, then Routing and Metrics."""

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

sync_api = require_browser()
expect = sync_api.expect


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "spaces_os.db"
    with streamlit_server({"SPACES_OS_DB": str(db), "HF_TOKEN": "", "OPENROUTER_API_KEY": "",
                           "OPENROUTER_KEY": "", "AGENTIC_CONFIG": ""}) as base:
        yield base


def test_demo_chat_then_routing_then_metrics(base_url):
    with browser_page(sync_api) as page:
        page.goto(base_url + "/")
        expect(page.get_by_text("Demo mode (", exact=False).first).to_be_visible(timeout=30000)
        screenshot(page, "01-home")

        nav(page, "Chat")
        box = page.locator('[data-testid="stChatInput"] textarea')
        expect(box).to_be_visible(timeout=20000)
        box.fill("What's 2+2?")
        box.press("Enter")
        reply = page.locator('[data-testid="stChatMessage"]').nth(1)
        expect(reply).to_contain_text("2 + 2 = 4.", timeout=20000)
        expect(reply).to_contain_text("QUICK", timeout=10000)
        expect(reply).to_contain_text("DEMO")
        box.fill("Write a detailed report on GPU cloud pricing with a plan")
        box.press("Enter")
        expect(page.get_by_text("Background tasks")).to_be_visible(timeout=20000)
        no_exception_boxes(page)
        screenshot(page, "02-chat")

        nav(page, "Routing")
        expect(page.get_by_role("heading", name="Routing").first).to_be_visible(timeout=20000)
        page.wait_for_timeout(1500)
        no_exception_boxes(page)
        screenshot(page, "03-routing")

        nav(page, "Metrics")
        expect(page.get_by_role("heading", name="Metrics").first).to_be_visible(timeout=20000)
        page.wait_for_timeout(1500)
        no_exception_boxes(page)
        screenshot(page, "04-metrics")


def test_key_field_is_a_password_input_and_shows_only_masked_key(base_url):
    with browser_page(sync_api) as page:
        page.goto(base_url + "/providers")
        field = page.get_by_role("textbox", name="Your openrouter key")
        expect(field).to_be_visible(timeout=30000)
        assert field.get_attribute("type") == "password"
        wait_idle(page)
        field.fill("sk-or-v1-browsertestkey0000000001234")
        field.press("Enter")
        expect(page.get_by_text("sk-or-…1234").first).to_be_visible(timeout=10000)
        expect(field).to_have_count(1, timeout=10000)       # the rerun has ended: no stale copy of the card left
        expect(field).to_have_value("", timeout=10000)          # the widget is emptied once the key is saved
        assert "browsertestkey" not in page.content()
        screenshot(page, "05-providers")
