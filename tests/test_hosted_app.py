"""Hosted mode through the application layer: a visitor sees and controls only their own work, changes
nothing global, every shared-key call is budgeted and recorded, and the identity can't be reset by
what the client sends. Real services on a real SQLite file, real local servers, the real pages."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
import yaml
from streamlit.testing.v1 import AppTest

from core.agent.rules import parse_rules_text
from core.app.rules import ReadOnlyRules
from core.app.services import build_services
from core.app.session import SessionContext, proxy_client_address
from core.app.tasks import NotYourTask
from core.llm.budget import visitor_identity
from tests.fake_openai import Reply

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
REPORT = "Write a detailed report comparing three GPU clouds, with a migration plan."


def hosted_services(tmp_path, monkeypatch, providers: dict, env: dict | None = None, **hosted):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agentic-config.yaml").write_text(yaml.safe_dump({**providers, "hosted": {"enabled": True,
                                                                                            **hosted}}))
    rules = tmp_path / "routing.yaml"          # a copy: the tests may save it, the shipped file stays as it is
    rules.write_text((Path(__file__).resolve().parents[1] / "data" / "routing.yaml").read_text())
    return build_services(env={"SPACES_OS_DB": str(tmp_path / "db.sqlite"), "SPACES_OS_ROUTING": str(rules),
                               **(env or {})}, cwd=tmp_path)


@pytest.fixture
def svc(tmp_path, monkeypatch, fake):
    fake.default = Reply(chunk_delay=0.02)
    s = hosted_services(tmp_path, monkeypatch, {"alpha": {"url": fake.url, "api_key": "owner-shared-key",
                                                           "models": ["fake/small"]}}, requests_per_minute=100)
    yield s
    s.manager.shutdown(2.0)


def visitor(name: str) -> SessionContext:
    return SessionContext.ephemeral(visitor_identity(f"203.0.113.{len(name)}", None, name), hosted=True)


def test_a_visitor_cannot_pause_resume_or_cancel_another_visitors_task(svc):
    a, b = visitor("a"), visitor("bb")
    task = svc.manager.submit(REPORT, session=a.identity)
    for action in (svc.tasks.pause, svc.tasks.resume, svc.tasks.cancel):
        with pytest.raises(NotYourTask):
            action(b, task.id)
    assert svc.manager.get(task.id).status in ("queued", "running")
    assert svc.tasks.queue(b) == [] and [t.id for t in svc.tasks.queue(a)] == [task.id]
    svc.tasks.cancel(a, task.id)


def test_the_operator_sees_every_session(tmp_path, monkeypatch, fake):
    s = hosted_services(tmp_path, monkeypatch, {"alpha": {"url": fake.url, "api_key": "k"}},
                        env={"SPACES_OS_OPERATOR_TOKEN": "op-secret-1"})
    assert s.policy.is_operator("op-secret-1") and not s.policy.is_operator("guess")
    a = visitor("a")
    task = s.manager.submit(REPORT, session=a.identity)
    operator = SessionContext.ephemeral("ops", hosted=True, operator=True)
    assert task.id in [t.id for t in s.tasks.queue(operator)]
    s.tasks.cancel(operator, task.id)
    s.manager.shutdown(2.0)


def test_decision_log_and_last_decision_are_scoped_to_the_visitor(svc):
    from core.app.views.routing import decision_log, last_decision

    a, b = visitor("a"), visitor("bb")
    svc.manager.submit("What's 2+2?", session=a.identity)
    assert decision_log(svc.store, session=b.session_hash) == []
    assert last_decision(svc.store, b.session_hash) is None
    assert decision_log(svc.store, session=a.session_hash)
    assert last_decision(svc.store, a.session_hash) is not None


def test_hosted_rules_are_read_only_and_clamped_on_every_change(svc):
    v = visitor("a")
    assert svc.rules.path.parent != Path(__file__).resolve().parents[1] / "data"
    before = svc.rules.text()
    with pytest.raises(ReadOnlyRules):
        svc.rules.save(v, before.replace("max_tasks_per_session", "max_tasks_per_session_x"))
    assert svc.rules.text() == before
    # Even the operator's change (or an edit of the file on disk) can't lift the hosted clamps.
    operator = SessionContext.ephemeral("ops", hosted=True, operator=True)
    raw = yaml.safe_load(before)
    raw["max_tasks_per_session"] = 100
    raw["llm_classifier"] = {"enabled": True, "timeout": 3}
    svc.rules.save(operator, yaml.safe_dump(raw))
    assert svc.manager.rules.max_tasks_per_session == svc.hosted_settings.max_tasks_per_session
    assert svc.manager.rules.llm_classifier["enabled"] is False
    assert parse_rules_text(svc.rules.text(), "x").max_tasks_per_session == 100   # the file says what was typed


def test_the_health_check_spends_budget_and_writes_a_usage_row(tmp_path, monkeypatch, fake):
    s = hosted_services(tmp_path, monkeypatch, {"alpha": {"url": fake.url, "api_key": "owner-shared-key",
                                                           "models": ["fake/small"]}}, requests_per_minute=2)
    v = visitor("a")
    assert s.providers.health(v, "alpha")["ok"]
    assert s.providers.health(v, "alpha")["ok"]
    third = s.providers.health(v, "alpha")
    assert not third["ok"] and "used up" in third["message"]
    s.store.flush()
    rows = s.store.usage_rows()
    assert len(rows) == 2 and {r["key_source"] for r in rows} == {"shared"}
    assert len(fake.chat_requests) == 2
    s.manager.shutdown(2.0)


def test_an_unpriced_model_still_trips_the_usd_budget(tmp_path, monkeypatch, fake):
    fake.default = Reply("x" * 400, tokens_in=1000, tokens_out=1000)     # no cost sent, model not priced
    s = hosted_services(tmp_path, monkeypatch, {"alpha": {"url": fake.url, "api_key": "owner-shared-key",
                                                           "models": ["nobody/unpriced-model"]}},
                        usd_per_day=0.05, requests_per_minute=1000, tokens_per_day=10**9)
    v = visitor("a")
    answered = 0
    for _ in range(20):
        try:
            s.router.chat([{"role": "user", "content": "hi"}], session=v.identity)
            answered += 1
        except Exception:
            break
        s.store.flush()
    assert answered < 20           # 2,000 tokens at $15/M = $0.03 a request: the $0.05 limit stops it at 2
    assert answered == 2
    s.manager.shutdown(2.0)


def test_the_llm_classifier_call_carries_the_session(svc, fake):
    svc.manager.rules.llm_classifier = {"enabled": True, "timeout": 3}     # locally possible; hosted clamps it
    fake.queue(Reply("QUICK"))
    v = visitor("a")
    svc.manager.submit("What's 2+2?", session=v.identity)
    svc.store.flush()
    rows = svc.store.usage_rows()
    assert rows and all(r["session"] == v.session_hash for r in rows)


def test_identity_uses_the_hop_the_proxy_appends_and_ignores_the_user_agent():
    spoofed = {"X-Forwarded-For": "1.2.3.4, 198.51.100.9"}
    assert proxy_client_address(spoofed, "10.0.0.1") == "198.51.100.9"
    assert proxy_client_address({"x-forwarded-for": "7.7.7.7, 198.51.100.9"}, None) == "198.51.100.9"
    assert proxy_client_address({}, "10.0.0.1") == "10.0.0.1"
    assert visitor_identity("198.51.100.9", None, "s1") == visitor_identity("198.51.100.9", None, "s2")


# ------------------------------------------------------------------ through the pages


@pytest.fixture
def hosted_app(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPACE_ID", "owner/spaces-os")
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def test_hosted_routing_page_shows_the_rules_read_only(hosted_app):
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/routing.py").run()
    assert not at.exception
    assert at.text_area(key="rules_text").disabled
    assert not [b for b in at.button if b.key == "rules_save"]


def test_hosted_home_and_queue_show_only_the_visitors_own_tasks(hosted_app):
    a = AppTest.from_file(APP, default_timeout=30).run()
    a.switch_page("pages/chat.py").run()
    a.chat_input[0].set_value(REPORT).run()
    b = AppTest.from_file(APP, default_timeout=30).run()
    assert not b.exception
    assert not any(REPORT[:40] in str(df.value.to_dict()) for df in b.dataframe)
    a.switch_page("pages/overview.py").run()
    assert any(REPORT[:40] in str(df.value.to_dict()) for df in a.dataframe)


def test_a_visitors_csv_export_holds_only_their_own_rows(svc):
    a, b = visitor("a"), visitor("bb")
    svc.router.chat([{"role": "user", "content": "hi"}], session=a.identity)
    svc.router.chat([{"role": "user", "content": "hi"}], session=b.identity)
    svc.store.flush()
    everyone = "".join(svc.store.usage_csv(0))
    mine = "".join(svc.store.usage_csv(0, session=a.session_hash))
    assert a.session_hash in everyone and b.session_hash in everyone
    assert a.session_hash in mine and b.session_hash not in mine
    assert len(mine.splitlines()) == 2          # the header and a's one attempt
