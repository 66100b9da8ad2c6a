"""Every page under Streamlit's AppTest: loads with and without keys, chat round trip in demo mode,
password inputs, session isolation, and a readable page for a malformed config."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import SENTINEL_KEY

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
PAGES = ["pages/overview.py", "pages/chat.py", "pages/routing.py", "pages/providers.py", "pages/spaces.py",
         "pages/metrics.py"]


@pytest.fixture(autouse=True)
def fresh_services(monkeypatch, tmp_path):
    """Services are process-wide (st.cache_resource); each test starts them on its own database."""
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30).run()


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info] + \
            [e.value for e in at.error] + [w.value for w in at.warning] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_without_keys(page):
    at = app()
    if page != "pages/overview.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title, "page has no title"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_with_a_session_key(page):
    at = app()
    at.session_state["keys"] = {"openrouter": SENTINEL_KEY}
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert SENTINEL_KEY not in texts(at)


def test_home_shows_demo_banner_and_provider_cards():
    at = app()
    body = texts(at)
    assert "Demo mode" in body and "Providers" in body
    assert "huggingface" in body and "openrouter" in body
    assert [m.label for m in at.metric] == ["Requests", "Cost", "Median latency", "Error rate"]


def test_chat_round_trip_in_demo_mode_shows_reply_and_routing_facts():
    at = app()
    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("What's 2+2?").run()
    assert not at.exception
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    reply = at.chat_message[1]
    assert "2 + 2 = 4" in reply.markdown[0].value
    facts = " ".join(c.value for c in reply.caption)
    assert "QUICK" in facts and "demo / demo/quick-1" in facts and "DEMO" in facts and " ms" in facts
    assert "tokens out" in facts


def test_complex_chat_request_becomes_a_background_task():
    at = app()
    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("Write a detailed report on GPU cloud pricing with a plan").run()
    assert not at.exception
    assert "Started background task" in at.chat_message[1].markdown[0].value
    assert len(at.session_state["task_ids"]) == 1
    assert "Background tasks" in texts(at)


def test_key_inputs_are_password_fields_and_keys_stay_in_session_state():
    at = app()
    at.switch_page("pages/providers.py").run()
    inputs = [t for t in at.text_input if t.key and t.key.startswith("key_input_")]
    assert inputs and all(t.proto.type == t.proto.PASSWORD for t in inputs)
    at.text_input(key="key_input_openrouter").input(SENTINEL_KEY).run()
    assert at.session_state["keys"]["openrouter"] == SENTINEL_KEY
    assert SENTINEL_KEY not in texts(at)                        # only the masked form is shown
    assert "…4b5c6d7e"[-4:] in texts(at) or "6d7e" in texts(at)
    assert at.text_input(key="key_input_openrouter").value == ""   # the widget does not keep it


def test_two_sessions_never_see_each_others_keys():
    a, b = app(), app()
    a.switch_page("pages/providers.py").run()
    a.text_input(key="key_input_openrouter").input(SENTINEL_KEY).run()
    b.switch_page("pages/providers.py").run()
    assert "keys" in a.session_state and a.session_state["keys"].get("openrouter") == SENTINEL_KEY
    assert b.session_state["keys"] == {}
    assert SENTINEL_KEY not in texts(b) and "not set" in texts(b)


def test_clear_my_keys_button_forgets_keys():
    at = app()
    at.session_state["keys"] = {"openrouter": SENTINEL_KEY}
    at.run()
    at.button(key="clear_keys").click().run()
    assert at.session_state["keys"] == {}


def test_malformed_config_shows_a_readable_error_page(tmp_path, monkeypatch):
    bad = tmp_path / "agentic-config.yaml"
    bad.write_text("openrouter:\n  priority: [unclosed\n")
    monkeypatch.setenv("AGENTIC_CONFIG", str(bad))
    for page in PAGES:
        at = app()
        if page != "pages/overview.py":
            at.switch_page(page).run()
        assert not at.exception
        # Pages that need a provider stop with the error; Spaces and Metrics go on under it as a banner.
        shown = at.warning if page in ("pages/spaces.py", "pages/metrics.py") else at.error
        assert shown and "could not be loaded" in shown[0].value
        assert str(bad) in shown[0].value and "line" in shown[0].value
        assert bool(at.title) == (page in ("pages/spaces.py", "pages/metrics.py"))


def test_providers_page_shows_masked_config_and_catalogue(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-sharedsharedshared9999")
    at = app()
    at.switch_page("pages/providers.py").run()
    body = texts(at) + "\n".join(c.value for c in at.code)
    assert "sharedsharedshared" not in body and "9999" in body
    assert len(at.dataframe) == 1 and "model" in at.dataframe[0].value.columns
