"""The interrupt → checkpoint → resume story and the task cards, queue and log under AppTest: the paused state
and the resume in the conversation and the card, the whole task's figures, the compact card (progress,
elapsed, estimate, text in an expander, controls in fixed places), the queue's headers and the decision log
in plain words with its details one click away."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.views.routing import LOG_COLUMNS
from core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
QUICK = "What's 2+2?"
COMPLEX = "Write a detailed report on GPU cloud pricing with a plan"


@pytest.fixture(autouse=True)
def fresh_services(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def store():
    return Store(os.environ["SPACES_OS_DB"])


def chat() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/chat.py").run()
    return at


def say(at: AppTest, text: str) -> None:
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception


def poll(at: AppTest, predicate, timeout: float = 40.0):
    """Rerun the page until `predicate(at)` holds (no timing asserts: generous, and only a ceiling)."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if value := predicate(at):
            return value
        if time.monotonic() > deadline:
            raise AssertionError("state not reached in time:\n" + texts(at))
        time.sleep(0.2)


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in [*at.markdown, *at.caption, *at.error])


def task_row(store: Store, task_id: str) -> dict:
    return store.get_task(task_id)


def running_with_text(store: Store, task_id: str, chars: int = 60) -> bool:
    row = task_row(store, task_id)
    return row["status"] == "running" and len((row["checkpoint"] or {}).get("partial_text", "")) > chars


def progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


def test_card_is_compact_with_progress_estimate_and_controls_in_fixed_places(store):
    at = chat()
    say(at, QUICK)                                       # a recent answer on the demo provider: the throughput
    say(at, COMPLEX)
    task_id = at.session_state["task_ids"][-1]
    poll(at, lambda _: running_with_text(store, task_id))
    progress = progress_texts(at)
    assert progress and progress[0].startswith("running for ") and " · estimate ~" in progress[0]
    expanders = [e.label for e in at.expander]
    assert any(label.startswith("Text so far (") for label in expanders)
    card_text = texts(at)
    assert "##### Report" in card_text and "\n# Report" not in card_text and not card_text.startswith("# Report")

    keys = [b.key for b in at.button if b.key and b.key.endswith(task_id)]
    assert keys == [f"pause_{task_id}", f"resume_{task_id}", f"cancel_{task_id}"]
    assert [at.button(key=k).disabled for k in keys] == [False, True, False]

    at.button(key=f"pause_{task_id}").click().run()
    poll(at, lambda _: task_row(store, task_id)["status"] == "paused")
    assert [b.key for b in at.button if b.key and b.key.endswith(task_id)] == keys      # same places
    assert [at.button(key=k).disabled for k in keys] == [True, False, False]
    assert "paused by you at " in texts(at)

    at.button(key=f"cancel_{task_id}").click().run()
    poll(at, lambda _: task_row(store, task_id)["status"] == "cancelled")
    chars = len(task_row(store, task_id)["checkpoint"]["partial_text"])
    body = texts(at)
    assert f"cancelled at {chars:,} characters" in body
    assert "▌" not in body
    assert not [b for b in at.button if b.key and b.key.endswith(task_id)]     # a finished task has no controls


def test_quick_question_pauses_the_analysis_says_so_resumes_it_and_the_card_sums_both_parts(store):
    at = chat()
    say(at, COMPLEX)
    task_id = at.session_state["task_ids"][-1]
    poll(at, lambda _: running_with_text(store, task_id))
    say(at, QUICK)
    reply = at.chat_message[-1]
    assert "2 + 2 = 4" in reply.markdown[0].value
    notes = " ".join(c.value for c in reply.caption)
    assert f"⏸️ Paused background task `{task_id}` at " in notes and " characters to answer this first." in notes
    assert "▶️ Resumed it when this answer ended." in notes

    poll(at, lambda _: task_row(store, task_id)["status"] == "done", timeout=60)
    # The card sums the task's usage rows, which the app's writer adds up to 0.1 s after the task's status:
    # wait for both rows, then for the live card to show their sums (it may show "done" a rerun before that).
    rows = poll(at, lambda _: (found if len(found := [r for r in store.usage_rows(task_id=task_id)
                                                      if r["outcome"] == "ok"]) == 2 else None))
    latency = sum(r["latency_ms"] for r in rows)
    tokens = sum(r["tokens_out"] for r in rows)
    summed = f"{latency:,.0f} ms", f"{tokens:,} tokens out"
    body = poll(at, lambda a: texts(a) if all(words in texts(a) for words in summed) else None)
    assert "done in 2 parts (paused once) · took " in body
    assert 'data-testid="task-timeline"' in body and "⏸ " in body
    assert "s of it paused)" in body
    assert any(e.label.startswith("Answer (") for e in at.expander)


def test_routing_queue_has_headers_and_the_log_reads_in_plain_words_with_details(store):
    at = chat()
    say(at, COMPLEX)
    task_id = at.session_state["task_ids"][-1]
    at.switch_page("pages/routing.py").run()
    assert not at.exception, at.exception
    headers = [m.value for m in at.markdown]
    assert all(f"**{name}**" in headers for name in ("Task · request", "Status", "Label"))
    assert any(m.value.startswith("COMPLEX\u00a0") for m in at.markdown)         # never wraps

    log = at.dataframe[0]
    assert list(log.proto.column_order) == LOG_COLUMNS                           # no truncated JSON column
    table = log.value
    assert table["time"].str.match(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").all()
    classified = table[(table["kind"] == "classified") & (table["task"] == task_id)]["what happened"].iloc[0]
    assert classified.startswith("Looks like long work, run in the background (") and "threshold" not in classified
    details = [e for e in at.expander if e.label.startswith("Details: ")]
    assert details and at.json, "the raw event is one click away"
