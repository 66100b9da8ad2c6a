"""The "Build from an idea" wizard in a real browser against the fake Hub: type an idea, start, watch the
steps live, read the report and the files, then roll the Space back after a confirm. Screenshots go to
test-artifacts/build-*.png.

The token is the console's shared one (HF_TOKEN), which also makes the Hugging Face LLM provider usable;
the config points that provider at a local server answering like the demo provider (see
tests/test_build_wizard.py), so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import re

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
from tests.fake_hub import FakeHub, FakeModel
from tests.test_build_wizard import SENTIMENT_MODEL, DemoAnswers

sync_api = require_browser()
expect = sync_api.expect

TOKEN = "hf_BROWSERbuild00000000-c3d4"


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as fake:
        fake.add_token(TOKEN, user="alice")
        fake.add_model(FakeModel(SENTIMENT_MODEL, pipeline_tag="text-classification", downloads=3_000_000,
                                 providers={"hf-inference": {"status": "live", "providerId": SENTIMENT_MODEL,
                                                             "task": "text-classification"}}))
        yield fake


@pytest.fixture(scope="module")
def llm():
    server = DemoAnswers().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base_url(hub, llm, tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser-build")
    config = folder / "agentic-config.yaml"
    config.write_text(f"huggingface:\n  url: {llm.url}\n")
    env = {"SPACES_OS_DB": str(folder / "spaces_os.db"), "HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN,
           "SPACES_OS_HF_ROUTER_URL": hub.router_url, "OPENROUTER_API_KEY": "", "OPENROUTER_KEY": "",
           "AGENTIC_CONFIG": str(config)}
    with streamlit_server(env) as base:
        yield base


def test_idea_to_running_space_then_roll_back(base_url, hub, llm):
    with browser_page(sync_api) as page:
        console_errors = []
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(
            (base_url, "data:", "blob:", "about:")) else None)
        page.set_viewport_size({"width": 1400, "height": 1500})
        page.goto(base_url + "/")
        expect(page.get_by_role("heading", name="Spaces OS")).to_be_visible(timeout=30000)
        nav(page, "Spaces")
        expect(page.get_by_role("heading", name="Spaces").first).to_be_visible(timeout=30000)

        page.get_by_role("tab", name="Build from an idea", exact=True).click()
        idea = page.get_by_role("textbox", name="Your idea")
        expect(idea).to_be_visible(timeout=15000)
        wait_idle(page)
        idea.fill("a sentiment analysis demo")
        page.wait_for_timeout(300)
        no_exception_boxes(page)
        screenshot(page, "build-01-idea")

        page.get_by_role("button", name="Start the build").click()
        # Live: a step box is running while the page stays usable.
        expect(page.get_by_text(re.compile(r"Building .*a sentiment analysis demo"))).to_be_visible(timeout=15000)
        expect(page.get_by_text("· running ·").first).to_be_visible(timeout=15000)
        expect(page.get_by_text("Follow the build · running")).to_be_visible(timeout=20000)   # ticks on its own
        expect(page.get_by_text("BUILDING after 0 s")).to_be_visible(timeout=5000)
        page.wait_for_timeout(300)
        no_exception_boxes(page)
        screenshot(page, "build-02-running")

        expect(page.get_by_text(re.compile(r"alice/sentiment-analysis-demo-\w+ is RUNNING"))).to_be_visible(
            timeout=40000)
        page.set_viewport_size({"width": 1400, "height": 2400})    # the whole report in one picture
        page.wait_for_timeout(800)
        no_exception_boxes(page)
        screenshot(page, "build-03-report")
        space_id = next(s for s in hub.spaces if s.startswith("alice/sentiment-analysis-demo-"))
        link = page.get_by_role("link", name="open it on the Hub ↗")
        assert link.get_attribute("href") == f"{hub.url}/spaces/{space_id}"
        assert hub.space(space_id).private and hub.space(space_id).stage == "RUNNING"
        assert page.locator('[data-testid="stStatusWidget"], [data-testid="stExpander"]').count() >= 8

        for step in ("Choose the SDK and the model", "Local preview", "Create the Space and commit"):
            page.locator('[data-testid="stExpander"] summary', has_text=step).first.click()
        expect(page.get_by_text("answered HTTP 200").first).to_be_visible(timeout=10000)
        page.wait_for_timeout(400)
        screenshot(page, "build-04-steps")

        page.locator('[data-testid="stExpander"] summary', has_text="app.py").first.click()
        expect(page.locator('[data-testid="stCode"]', has_text="InferenceClient").first).to_be_visible(timeout=10000)
        page.wait_for_timeout(400)
        screenshot(page, "build-05-files")

        page.get_by_role("button", name="Roll back…").click()
        confirm = page.get_by_role("button", name=f"Yes, delete {space_id}")
        expect(confirm).to_be_visible(timeout=15000)
        page.wait_for_timeout(300)
        screenshot(page, "build-06-confirm")
        assert space_id in hub.spaces
        confirm.click()
        expect(page.get_by_text(f"Rolled back: Deleted {space_id}.")).to_be_visible(timeout=15000)     # a toast
        page.wait_for_timeout(500)
        no_exception_boxes(page)
        screenshot(page, "build-07-rolled-back")
        assert space_id not in hub.spaces

        # A free plan can't create a Docker Space: the run fails in words; once upgraded, Resume goes on.
        hub.set_plan("alice", "free")
        page.get_by_role("textbox", name="Your idea").fill("a chatbot for my support team")
        page.get_by_role("button", name="Start the build").click()
        expect(page.get_by_text("The build failed.")).to_be_visible(timeout=40000)
        page.wait_for_timeout(800)
        no_exception_boxes(page)
        screenshot(page, "build-08-failed")
        hub.set_plan("alice", "pro")
        page.get_by_role("button", name="Resume").click()
        expect(page.get_by_text(re.compile(r"alice/chatbot-\w+ is RUNNING"))).to_be_visible(
            timeout=40000)
        page.locator('[data-testid="stExpander"] summary', has_text="Builds in this session").click()
        page.wait_for_timeout(800)
        no_exception_boxes(page)
        screenshot(page, "build-09-resumed")

        assert TOKEN not in page.content()
        assert all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in llm.chat_requests)
        assert outside == [], f"the page reached beyond 127.0.0.1: {outside[:5]}"
        assert console_errors == [], console_errors[:5]


def test_dry_run_without_a_token_shows_the_folder_and_how_to_push(tmp_path):
    # Its own fake Hub: the module's Hub still serves the first test's console, whose build job may still be
    # following or rolling back its Space while this test runs, and those writes must not count as this one's.
    with FakeHub() as hub, streamlit_server({
            "SPACES_OS_DB": str(tmp_path / "spaces_os.db"), "HF_ENDPOINT": hub.url, "HF_TOKEN": "",
            "SPACES_OS_HF_ROUTER_URL": hub.router_url, "OPENROUTER_API_KEY": "", "OPENROUTER_KEY": "",
            "AGENTIC_CONFIG": ""}) as base, browser_page(sync_api) as page:
        page.set_viewport_size({"width": 1400, "height": 2000})
        page.goto(base + "/")
        # The legacy pages/ list shows until Home.py's st.navigation has run: wait for Home first.
        expect(page.get_by_role("heading", name="Spaces OS")).to_be_visible(timeout=30000)
        nav(page, "Spaces")
        page.get_by_role("tab", name="Build from an idea", exact=True).click(timeout=30000)
        # Enter submits a Streamlit form only if the form's submit button was on the page when the text box last
        # redrew (here: when it was filled). The rerun streams the form in pieces, and under load the box is
        # usable while its button is still on its way: typing then was silently not submitted (no run started).
        expect(page.get_by_role("button", name="Start the build")).to_be_enabled(timeout=30000)
        idea = page.get_by_role("textbox", name="Your idea")
        idea.fill("a landing page for my bakery")
        hub.clear_requests()
        idea.press("Enter")                                                    # Enter submits the form
        expect(page.get_by_text("Dry run: nothing was created on the Hub")).to_be_visible(timeout=40000)
        expect(page.get_by_text("hf upload <your-user>/")).to_be_visible(timeout=20000)   # not the 5 s default
        page.wait_for_timeout(800)
        no_exception_boxes(page)
        screenshot(page, "build-10-dry-run")
        assert [r.method for r in hub.requests if r.method != "GET"] == []
        assert (tmp_path / "builds").is_dir()
