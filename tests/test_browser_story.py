"""The three demo scenarios in headless Chromium: a quick question; a long analysis; a quick question while
the analysis runs, which pauses it (visible in the card and the reply), answers, and resumes it; then the
card shows both parts summed, as the usage rows hold them. Ends on Routing: the queue's headers and
unclipped buttons, the decision log in plain words. Screenshots go to test-artifacts/story-*.png.

The demo provider is slowed to 40 ms a word (the default is 18) through a config file, so a quick answer
lasts long enough for a person, and this test, to see the pause while it happens."""

from __future__ import annotations

import re

import pytest

from core.store import Store
from tests.browser import browser_page, nav, no_exception_boxes, require_browser, screenshot, streamlit_server

sync_api = require_browser()
expect = sync_api.expect

COMPLEX = "Write a detailed report on GPU cloud pricing with a plan"
WAIT = 60_000       # ms: a ceiling to poll under, never a timing assert


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("story")
    config = folder / "agentic-config.yaml"
    config.write_text("demo:\n  pace_ms: 40\n")
    db = folder / "spaces_os.db"
    with streamlit_server({"SPACES_OS_DB": str(db), "HF_TOKEN": "", "OPENROUTER_API_KEY": "",
                           "OPENROUTER_KEY": "", "AGENTIC_CONFIG": str(config)}) as base:
        yield base, Store(str(db))


def ask(page, text: str) -> None:
    box = page.locator('[data-testid="stChatInput"] textarea')
    expect(box).to_be_enabled(timeout=WAIT)
    box.fill(text)
    box.press("Enter")


def started_task_id(page, nth: int) -> str:
    """The id of the `nth` (0-based) background task this conversation started."""
    started = page.locator('[data-testid="stChatMessage"]', has_text="Started background task")
    expect(started).to_have_count(nth + 1, timeout=WAIT)
    return re.search(r"Started background task (\w+)", started.nth(nth).inner_text()).group(1)


def card(page, task_id: str):
    return page.locator(f".st-key-task_card_{task_id}, .st-key-task_card_live_{task_id}").last


def test_quick_long_and_interrupting_question_show_pause_resume_and_summed_figures(server):
    base, store = server
    with browser_page(sync_api) as page:
        page.goto(base + "/")
        nav(page, "Chat")

        # 1. a quick question
        ask(page, "What's 2+2?")
        expect(page.locator('[data-testid="stChatMessage"]').nth(1)).to_contain_text("2 + 2 = 4.", timeout=WAIT)

        # 2. a long analysis: a compact card with progress, elapsed time and the estimate
        ask(page, COMPLEX)
        task_id = started_task_id(page, 0)
        long_card = card(page, task_id)
        expect(long_card).to_contain_text("running for", timeout=WAIT)
        expect(long_card).to_contain_text("estimate ~")
        expect(long_card.locator('[data-testid="stProgress"]')).to_be_visible()
        expect(long_card.get_by_text("Text so far (")).to_be_visible(timeout=WAIT)
        assert long_card.locator("h1").count() == 0          # the report's headings stay in the expander, small
        long_card.scroll_into_view_if_needed()
        screenshot(page, "story-1-running")

        # 3. a quick question while it runs: paused as it happens, in the card and in the reply
        ask(page, "Which GPU should a small team rent?")
        expect(card(page, task_id)).to_contain_text("paused for task", timeout=WAIT)
        expect(page.get_by_text("paused for task", exact=False).first).to_be_visible(timeout=WAIT)
        expect(page.get_by_text(f"Paused background task {task_id} at", exact=False).first).to_be_visible(
            timeout=WAIT)
        card(page, task_id).scroll_into_view_if_needed()
        screenshot(page, "story-2-paused")
        expect(page.get_by_text("Resumed it when this answer ended.", exact=False).first).to_be_visible(
            timeout=WAIT)
        expect(card(page, task_id)).to_contain_text("resumed at", timeout=WAIT)

        # the whole task: both parts summed, the interruption on the timeline
        done_card = card(page, task_id)
        expect(done_card).to_contain_text("done in 2 parts (paused once)", timeout=120_000)
        store.flush()
        rows = [r for r in store.usage_rows(task_id=task_id) if r["outcome"] == "ok"]
        assert len(rows) == 2
        latency = sum(r["latency_ms"] for r in rows)
        tokens = sum(r["tokens_out"] for r in rows)
        expect(done_card).to_contain_text(f"{latency:,.0f} ms", timeout=WAIT)
        expect(done_card).to_contain_text(f"{tokens:,} tokens out")
        expect(done_card.locator('[data-testid="task-timeline"]')).to_be_visible()
        expect(done_card).to_contain_text("⏸")
        assert "▌" not in done_card.inner_text()
        no_exception_boxes(page)
        screenshot(page, "story-3-done")

        # Routing, with one more analysis running so its controls show
        ask(page, COMPLEX + " for a second team")
        second = started_task_id(page, 1)
        expect(card(page, second)).to_contain_text("running for", timeout=WAIT)
        card(page, second).get_by_role("button", name="Pause").click()       # so it waits on Routing
        expect(card(page, second)).to_contain_text("paused by you", timeout=WAIT)
        nav(page, "Routing")
        expect(page.get_by_text("Decision log").first).to_be_visible(timeout=WAIT)
        row = page.locator(f".st-key-queue_row_{second}")
        expect(row).to_be_visible(timeout=WAIT)
        for header in ("Task · request", "Status", "Label"):
            expect(page.locator('[data-testid="stHorizontalBlock"]', has=page.get_by_text(header, exact=True))
                   .first).to_be_visible()
        row.scroll_into_view_if_needed()
        screenshot(page, "story-4-routing")
        cancel = row.get_by_role("button", name="Cancel")
        expect(cancel).to_be_visible(timeout=WAIT)
        assert cancel.evaluate("b => { const t = b.querySelector('p') || b; return t.scrollWidth <= t.clientWidth; }")
        label = row.get_by_text(re.compile(r"COMPLEX\s\d+%"))
        box = label.bounding_box()
        assert box and box["height"] < 30, box                  # one line: "COMPLEX 92%" does not wrap
        expect(page.get_by_text("Looks like long work", exact=False).first).to_be_attached(timeout=WAIT)
        expect(page.get_by_text("Details:", exact=False).first).to_be_visible()
        no_exception_boxes(page)
        screenshot(page, "story-4-routing")
