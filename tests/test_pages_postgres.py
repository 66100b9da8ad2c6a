"""The console on a PostgreSQL database (SPACES_OS_DB=postgresql://…), under AppTest: Home with its database
line, Providers with the per-process caveat, Metrics with the rows a chat wrote, and API tokens (create,
list, revoke), each on a fresh schema of the test server."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.services import ServiceRoot
from core.store import MIGRATIONS

APP = str(Path(__file__).resolve().parents[1] / "Home.py")


@pytest.fixture
def pg_console(monkeypatch, tmp_path, pg_schema_url):
    """The console's services on a fresh PostgreSQL schema; shut down (pool closed) before the schema goes."""
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout: demo mode
    monkeypatch.setenv("SPACES_OS_DB", pg_schema_url)
    st.cache_resource.clear()
    yield pg_schema_url
    st.cache_resource.clear()
    ServiceRoot.shared().shutdown()


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_home_providers_metrics_and_api_tokens_work_on_postgresql(pg_console):
    url = urlsplit(pg_console)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert (f"🗄️ Database: PostgreSQL · `{url.username}@{url.hostname}:{url.port}{url.path}` · "
            f"schema v{len(MIGRATIONS)} · answered in") in "\n".join(captions(at))

    at.switch_page("pages/providers.py").run()
    assert not at.exception, at.exception
    assert ("Cooldowns and circuit breakers are per console process; with several replicas each keeps its own."
            in captions(at))

    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("What's 2+2?").run()
    assert not at.exception and "2 + 2 = 4" in at.chat_message[1].markdown[0].value
    ServiceRoot.shared().current().store.flush()      # the app's usage writer, in this process
    at.switch_page("pages/metrics.py").run()
    assert not at.exception, at.exception
    assert dict((m.label, m.value) for m in at.metric)["Attempts"] == "1"
    at.switch_page("pages/overview.py").run()
    assert not at.exception and dict((m.label, m.value) for m in at.metric)["Requests"] == "1"

    at.switch_page("pages/api_tokens.py").run()
    assert not at.exception, at.exception
    at.text_input[0].set_value("ci")
    next(b for b in at.button if b.label == "Create token").click().run()
    assert not at.exception, at.exception
    assert at.success and at.code[0].value.startswith("sos_")
    assert at.dataframe[0].value["state"].tolist() == ["live"]
    next(b for b in at.button if b.label == "Revoke token").click().run()
    assert not at.exception and at.dataframe[0].value["state"].tolist() == ["revoked"]


def test_a_pool_size_that_is_not_a_number_is_said_in_words(pg_console, monkeypatch):
    monkeypatch.setenv("SPACES_OS_DB_POOL", "lots")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    errors = "\n".join(e.value for e in at.error)
    assert "SPACES_OS_DB_POOL must be a whole number of connections from 1 to 1000, not 'lots'" in errors
    monkeypatch.delenv("SPACES_OS_DB_POOL")         # the fixture's shutdown opens the store again
