"""Hosted mode: per-visitor budgets on the owner's shared keys, the audit log, and size/task limits.
Each test would pass without the protection only if the protection were not needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.agent.manager import Manager
from core.errors import AllProvidersFailed, ConfigError, SpacesOSError
from core.llm.budget import Budget, HostedSettings, hosted_settings, visitor_identity
from core.llm.config import load_config
from core.llm.keys import session_hash
from core.llm.router import Router
from core.store import Store
from tests.conftest import SENTINEL_KEY
from tests.fake_openai import Reply

MSG = [{"role": "user", "content": "hi"}]
APP = str(Path(__file__).resolve().parents[1] / "Home.py")


def hosted_router(fake, db_path, **limits) -> Router:
    config = load_config({"alpha": {"url": fake.url, "api_key": "owner-shared-key"}}, env={})
    store = Store(db_path)
    settings = HostedSettings(enabled=True, **limits)
    return Router(config, store, budget=Budget(store, settings))


def test_requests_per_minute_budget_then_asks_for_own_key(fake, db_path):
    router = hosted_router(fake, db_path, requests_per_minute=2)
    for _ in range(2):
        assert router.chat(MSG, session="visitor-a").key_source == "shared"
        router.store.flush()
    with pytest.raises(AllProvidersFailed, match="used up.*2 requests a minute.*add your own key"):
        router.chat(MSG, session="visitor-a")
    assert len(fake.chat_requests) == 2                                   # the shared key was not used again
    assert router.chat(MSG, session="visitor-a", keys={"alpha": "own"}).key_source == "byok"
    assert router.chat(MSG, session="visitor-b").key_source == "shared"   # other visitors keep their budget
    audit = router.store.audit(kinds=["budget_exceeded"])
    assert len(audit) == 1 and audit[0]["session"] == session_hash("visitor-a")


def test_a_burst_of_parallel_requests_cannot_overshoot_the_request_budget(fake, db_path):
    """Eight requests at once, each taking 0.3 s: none of their usage rows exists while the others
    are checked, so only the in-memory count stops the burst at the limit."""
    import threading

    fake.default = Reply("slow", delay=0.3)
    router = hosted_router(fake, db_path, requests_per_minute=3)
    outcomes: list[str] = []
    gate = threading.Barrier(8)

    def visit() -> None:
        gate.wait()
        try:
            outcomes.append(router.chat(MSG, session="visitor-a").key_source)
        except AllProvidersFailed as e:
            outcomes.append("refused" if "used up" in str(e) else str(e))

    threads = [threading.Thread(target=visit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["shared"] * 3
    assert len(fake.chat_requests) == 3


def test_sequential_requests_are_counted_before_their_rows_are_written(fake, db_path):
    router = hosted_router(fake, db_path, requests_per_minute=2)
    router.chat(MSG, session="visitor-a")
    router.chat(MSG, session="visitor-a")                 # no flush: the rows may still be queued
    with pytest.raises(AllProvidersFailed, match="2 requests a minute"):
        router.chat(MSG, session="visitor-a")


def test_requests_answered_with_the_visitors_own_key_do_not_spend_the_shared_budget(fake, db_path):
    router = hosted_router(fake, db_path, requests_per_minute=1)
    for _ in range(3):
        assert router.chat(MSG, session="visitor-a", keys={"alpha": "own"}).key_source == "byok"
    assert router.chat(MSG, session="visitor-a").key_source == "shared"
    with pytest.raises(AllProvidersFailed, match="1 requests a minute"):
        router.chat(MSG, session="visitor-a")


def test_without_a_budget_the_same_traffic_is_not_limited(fake, db_path):
    config = load_config({"alpha": {"url": fake.url, "api_key": "owner-shared-key"}}, env={})
    router = Router(config, Store(db_path))
    for _ in range(3):
        assert router.chat(MSG, session="visitor-a").key_source == "shared"


def test_token_budget_survives_a_restart(fake, db_path):
    fake.default = Reply("x", tokens_in=400, tokens_out=200)
    router = hosted_router(fake, db_path, tokens_per_day=1000, requests_per_minute=100)
    router.chat(MSG, session="visitor-a")
    router.chat(MSG, session="visitor-a")
    router.store.flush()
    again = hosted_router(fake, db_path, tokens_per_day=1000, requests_per_minute=100)   # a reload / new process
    with pytest.raises(AllProvidersFailed, match="1,000 tokens a day"):
        again.chat(MSG, session="visitor-a")


def test_usd_budget(fake, db_path):
    fake.default = Reply("x", cost=0.2)
    router = hosted_router(fake, db_path, usd_per_day=0.3, requests_per_minute=100)
    router.chat(MSG, session="v")
    router.chat(MSG, session="v")
    router.store.flush()
    with pytest.raises(AllProvidersFailed, match=r"\$0.30 a day"):
        router.chat(MSG, session="v")


def test_hosted_settings_from_config_and_environment():
    assert hosted_settings({}, {}).enabled is False
    assert hosted_settings({}, {"SPACE_ID": "me/console"}).enabled is True
    s = hosted_settings({"hosted": {"requests_per_minute": 3, "usd_per_day": 1}}, {"SPACE_ID": "x"})
    assert (s.requests_per_minute, s.usd_per_day) == (3, 1.0)
    with pytest.raises(ConfigError, match="hosted.tokens_per_day"):
        hosted_settings({"hosted": {"tokens_per_day": "lots"}}, {})
    with pytest.raises(ConfigError, match="unknown setting"):
        hosted_settings({"hosted": {"tokens_per_week": 1}}, {})


def test_visitor_identity_is_stable_hashed_and_distinct():
    a = visitor_identity("203.0.113.7", "Firefox", "s1")
    assert a == visitor_identity("203.0.113.7", "Firefox", "s2") and "203.0.113.7" not in a
    assert a != visitor_identity("203.0.113.8", "Firefox", "s1")
    assert visitor_identity(None, None, "s1") == "s1"


def test_total_task_limit_across_sessions(fake, db_path):
    fake.default = Reply(chunk_delay=0.05)
    router = Router.from_config({"alpha": {"url": fake.url, "api_key": "k"}}, db=db_path)
    manager = Manager(router, max_tasks_total=2)
    try:
        report = "Write a detailed report comparing three GPU clouds, with a migration plan."
        manager.submit(report, session="a")
        manager.submit(report, session="b")
        with pytest.raises(SpacesOSError, match="busy"):
            manager.submit(report, session="c")
    finally:
        manager.shutdown(2)


# ---------------------------------------------------------------- through the app

@pytest.fixture
def hosted_app(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPACE_ID", "owner/spaces-os")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_key_set_and_cleared_are_audited_without_the_key(hosted_app, tmp_path):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/providers.py").run()
    at.text_input(key="key_input_openrouter").input(SENTINEL_KEY).run()
    at.button(key="clear_keys").click().run()
    assert not at.exception
    store = Store(str(tmp_path / "spaces_os.db"))
    kinds = [row["kind"] for row in store.audit()]
    assert kinds == ["key_cleared", "key_set"]
    assert all(SENTINEL_KEY not in str(row) for row in store.audit())


def test_oversized_message_is_refused_with_the_limit(hosted_app):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("x" * 25_000).run()
    assert not at.exception
    assert any("the limit here is 20,000" in e.value for e in at.error)
    assert at.session_state["messages"] == []


def test_hosted_spaces_page_never_acts_with_the_owners_token(hosted_app, monkeypatch):
    from tests.fake_hub import FakeHub
    owner = "hf_ownersharedtoken000-0001"
    with FakeHub() as hub:
        hub.add_token(owner, user="owner", role="write")
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", owner)
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=30).run()
        at.switch_page("pages/spaces.py").run()
        assert not at.exception
        assert "no token: search only" in "\n".join(m.value for m in at.markdown)
        assert all(owner not in (r.headers.get("authorization") or "") for r in hub.requests)
