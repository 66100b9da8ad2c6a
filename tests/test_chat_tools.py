"""Agent tools in the Chat page (AppTest, demo provider, fake Hub): tool steps show as expandable steps,
and a Space deletion waits for the user's approval."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.views.chat import wants_tools
from tests.fake_hub import FakeHub, FakeSpace
from tests.fake_openai import Reply

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
TOKEN = "hf_chattoolswrite000-0001"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with FakeHub() as fake:
        fake.add_token(TOKEN, user="alice", role="write")
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        monkeypatch.chdir(tmp_path)
        st.cache_resource.clear()
        yield fake
        st.cache_resource.clear()


def chat(at: AppTest, text: str) -> AppTest:
    at.chat_input[0].set_value(text).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("prompt,expected", [
    ("find a sentiment model", True), ("Search spaces about image generation", True),
    ("what's the status of alice/demo?", True), ("What's 2+2?", False), ("Write a report on GPUs", False),
])
def test_tool_requests_are_recognised(prompt, expected):
    assert wants_tools(prompt) is expected


def test_demo_tool_call_shows_as_an_expandable_step_and_reaches_the_hub(hub):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/chat.py").run()
    chat(at, "find a sentiment model")
    assistant = at.chat_message[-1]
    assert assistant.name == "assistant"
    assert assistant.expander and "search_models" in assistant.expander[0].label
    assert "TOOLS" in " ".join(c.value for c in assistant.caption)
    assert any(r.path.startswith("/api/models") for r in hub.requests)


def test_space_deletion_waits_for_the_users_approval(hub, fake, tmp_path, monkeypatch):
    (tmp_path / "agentic-config.yaml").write_text(f"huggingface:\n  url: {fake.url}\n  token: {TOKEN}\n")
    hub.add_space(FakeSpace(id="alice/old-demo"))
    delete = [{"id": "c1", "type": "function",
               "function": {"name": "delete_space", "arguments": '{"space_id": "alice/old-demo", "confirm": "alice/old-demo"}'}}]
    fake.queue(Reply(tool_calls=delete), Reply("The Space alice/old-demo is deleted."))
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/chat.py").run()
    chat(at, "delete the space alice/old-demo")
    assert any("wants to change something" in w.value for w in at.warning)
    assert not any(r.method == "DELETE" for r in hub.requests)          # nothing ran before approval
    at.button(key="tool_approve").click().run()
    assert not at.exception, at.exception
    assert [r.method for r in hub.requests].count("DELETE") == 1
    assert "is deleted" in at.chat_message[-1].markdown[-1].value
