"""Tasks end right: a task whose reader goes away is never left `running`, so abandoned answers can
neither lock a visitor out nor fill the console. Real router, real local server, real SQLite."""

from __future__ import annotations

import gc

import pytest

from core.agent.manager import Manager
from core.llm.router import Router
from tests.fake_openai import Reply

QUICK = "What's 2+2?"


@pytest.fixture
def manager(fake, db_path):
    fake.default = Reply(chunk_delay=0.01)
    router = Router.from_config({"alpha": {"url": fake.url, "api_key": "k", "models": ["fake/small"]}}, db=db_path)
    m = Manager(router)
    yield m
    m.shutdown(2.0)


def test_a_stream_closed_mid_answer_ends_cancelled_with_its_checkpoint(manager):
    task, chunks = manager.submit_streaming(QUICK, session="visitor")
    said = next(chunks) + next(chunks)
    chunks.close()                               # what st.write_stream does when a new message reruns the page
    after = manager.get(task.id)
    assert after.status == "cancelled"
    assert after.checkpoint["partial_text"] == said
    assert "went away" in manager.store.events(task_id=task.id)[-1]["message"]


def test_an_abandoned_stream_that_is_garbage_collected_also_ends(manager):
    task, chunks = manager.submit_streaming(QUICK, session="visitor")
    next(chunks)
    del chunks
    gc.collect()
    assert manager.get(task.id).status == "cancelled"


def test_abandoned_answers_never_lock_the_visitor_out(manager):
    limit = manager.rules.max_tasks_per_session
    for _ in range(limit + 3):
        _, chunks = manager.submit_streaming(QUICK, session="visitor")
        next(chunks)
        chunks.close()
    task = manager.submit(QUICK, session="visitor")      # would raise "already has N unfinished tasks"
    assert task.status == "done"


def test_clearing_streamlit_caches_keeps_the_one_manager_and_its_running_task(fake, tmp_path, monkeypatch):
    """An anonymous `clear_cache` message empties st.cache_resource; the services must not be built again
    (a second manager would recover, i.e. pause, the first one's running tasks and leak its threads)."""
    import streamlit as st

    from core.app import widgets

    fake.default = Reply(chunk_delay=0.05)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agentic-config.yaml").write_text(f"alpha:\n  url: {fake.url}\n  api_key: k\n  models: [fake/small]\n")
    st.cache_resource.clear()
    svc = widgets.services()
    task = svc.manager.submit("Write a detailed report on GPU pricing with a migration plan", session="v")
    svc.manager.wait(task.id, timeout=5, statuses=("running",))
    st.cache_resource.clear()
    again = widgets.services()
    assert again is svc and again.manager is svc.manager
    assert svc.manager.get(task.id).status == "running"
    assert svc.manager.wait(task.id, timeout=30).status == "done"
    st.cache_resource.clear()
