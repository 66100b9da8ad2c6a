"""The application layer: a session's keys and provider settings reach routing for that session only,
explicit choices are never answered by the demo model, and the composition root reloads a fixed config.

Real local OpenAI-compatible servers, a real SQLite file, the real services; the page tests drive the
real pages under AppTest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
import yaml
from streamlit.testing.v1 import AppTest

from core.app.chat import ChatOptions
from core.app.services import ServiceRoot, build_services
from core.app.session import ProviderSettings, SessionContext
from core.errors import AllProvidersFailed

APP = str(Path(__file__).resolve().parents[1] / "Home.py")


def write_config(folder: Path, providers: dict) -> Path:
    path = folder / "agentic-config.yaml"
    path.write_text(yaml.safe_dump(providers), encoding="utf-8")
    return path


def two_endpoints(fake, fake_b, **beta) -> dict:
    return {"alpha": {"url": fake.url, "api_key": "shared-alpha", "models": ["fake/small"], "timeout": 5},
            "beta": {"url": fake_b.url, "api_key": "shared-beta", "models": ["fake/large"], "timeout": 5, **beta}}


@pytest.fixture
def services(tmp_path, monkeypatch, fake, fake_b):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, two_endpoints(fake, fake_b))
    svc = build_services(cwd=tmp_path)
    yield svc
    if svc.manager is not None:
        svc.manager.shutdown(2.0)


def auth(request) -> str | None:
    return {k.lower(): v for k, v in request.headers.items()}.get("authorization")


def ask(svc, ctx: SessionContext, prompt: str = "What's 2+2?", **options) -> str:
    turn = svc.chat.send(ctx, prompt, ChatOptions(**options))
    assert turn.kind == "stream", turn.message
    text = "".join(turn.chunks)
    svc.chat.finish_stream(ctx, turn, text)
    return text


def test_a_provider_switched_off_gets_zero_requests_and_only_for_that_session(services, fake, fake_b):
    mine, other = SessionContext.ephemeral("me"), SessionContext.ephemeral("other")
    services.providers.save_settings(mine, "alpha", ProviderSettings(enabled=False))
    for _ in range(3):
        ask(services, mine)
    assert len(fake.chat_requests) == 0 and len(fake_b.chat_requests) == 3
    ask(services, other)                           # the other session still routes to alpha first
    assert len(fake.chat_requests) == 1


def test_priority_reorders_for_one_session(services, fake, fake_b):
    mine, other = SessionContext.ephemeral("me"), SessionContext.ephemeral("other")
    services.providers.save_settings(mine, "beta", ProviderSettings(priority=0))
    ask(services, mine)
    assert (len(fake.chat_requests), len(fake_b.chat_requests)) == (0, 1)
    ask(services, other)
    assert (len(fake.chat_requests), len(fake_b.chat_requests)) == (1, 1)


def test_always_use_this_key_stops_shared_fallback_for_that_session(services, fake, fake_b):
    from tests.fake_openai import Status

    mine = SessionContext.ephemeral("me", keys={"alpha": "mine-alpha-key-1"})
    services.providers.save_settings(mine, "alpha", ProviderSettings(always_use_this_key=True, fallback=True))
    services.providers.save_settings(mine, "beta", ProviderSettings(enabled=False))
    fake.queue(Status(401, "invalid key"))
    turn = services.chat.send(mine, "What's 2+2?", ChatOptions())
    "".join(turn.chunks)
    message = services.chat.finish_stream(mine, turn, "")
    assert [auth(r) for r in fake.chat_requests] == ["Bearer mine-alpha-key-1"]
    assert message["error"] and "alpha" in message["error"]

    other = SessionContext.ephemeral("other", keys={"alpha": "theirs-alpha-key"})
    fake.queue(Status(401, "invalid key"))
    ask(services, other)                          # no such setting: BYOK fails, the shared key answers
    assert [auth(r) for r in fake.chat_requests][1:] == [
        "Bearer theirs-alpha-key", "Bearer shared-alpha"]


def test_a_pinned_provider_without_a_key_gives_a_clear_message_not_demo(tmp_path, monkeypatch, fake):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, {"openrouter": {"models": ["openai/gpt-4o-mini"]}})     # no key anywhere
    svc = build_services(cwd=tmp_path)
    ctx = SessionContext.ephemeral("me")
    turn = svc.chat.send(ctx, "What's 2+2?", ChatOptions(provider="openrouter"))
    assert turn.kind == "failed"
    assert "You chose `openrouter`, but it has no key" in turn.message and "Providers page" in turn.message
    assert svc.store.list_tasks(limit=10) == []             # nothing was queued and left behind
    turn = svc.chat.send(ctx, "What's 2+2?", ChatOptions(model="meta-llama/Llama-3.3-70B-Instruct"))
    assert turn.kind == "failed" and "not sent to the offline demo model" in turn.message


def test_a_demo_answer_says_so_and_why(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    svc = build_services(cwd=tmp_path)
    ctx = SessionContext.ephemeral("me")
    ask(svc, ctx)
    assert "answered by the offline demo model because no provider has a key" in ctx.messages[-1]["facts"]


def test_a_key_shaped_for_another_provider_is_refused_where_it_is_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, {"huggingface": {}, "openrouter": {}})
    svc = build_services(cwd=tmp_path)
    ctx = SessionContext.ephemeral("me")
    problem = svc.providers.set_key(ctx, "huggingface", "sk-or-v1-" + "0" * 64)
    assert problem and problem.startswith("Not saved")
    assert ctx.keys == {}
    assert svc.providers.set_key(ctx, "huggingface", "hf_" + "a" * 34) is None
    assert set(ctx.keys) == {"huggingface"}


def test_router_plan_refuses_a_switched_off_pinned_provider(services):
    ctx = SessionContext.ephemeral("me")
    services.providers.save_settings(ctx, "alpha", ProviderSettings(enabled=False))
    with pytest.raises(AllProvidersFailed, match="switched off in your provider settings"):
        services.router.plan(provider="alpha", **{k: v for k, v in ctx.route_options().items() if k != "session"})


def test_a_session_cannot_control_another_sessions_task_when_hosted(services):
    from core.app.tasks import NotYourTask

    owner = SessionContext.ephemeral("owner", hosted=True)
    stranger = SessionContext.ephemeral("stranger", hosted=True)
    task = services.manager.submit("Write a detailed report on GPU pricing with a plan", session=owner.identity)
    with pytest.raises(NotYourTask):
        services.tasks.cancel(stranger, task.id)
    assert services.tasks.queue(stranger) == []
    assert [t.id for t in services.tasks.queue(owner)] == [task.id]
    services.tasks.cancel(owner, task.id)


# ------------------------------------------------------------------ through the pages


@pytest.fixture
def fresh_app(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def test_switching_a_provider_off_on_the_providers_page_reaches_chat(fresh_app, fake, fake_b):
    write_config(fresh_app, two_endpoints(fake, fake_b))
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/providers.py").run()
    at.toggle(key="enabled_alpha").set_value(False).run()
    assert not at.exception
    assert "switched off in your settings" in " ".join(m.value for m in at.markdown)
    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("What's 2+2?").run()
    assert not at.exception
    assert len(fake.chat_requests) == 0 and len(fake_b.chat_requests) == 1

    other = AppTest.from_file(APP, default_timeout=30).run()      # a second browser session
    other.switch_page("pages/chat.py").run()
    other.chat_input[0].set_value("What's 2+2?").run()
    assert len(fake.chat_requests) == 1


def test_a_wrong_shaped_key_is_refused_on_the_providers_page(fresh_app):
    write_config(fresh_app, {"huggingface": {}, "openrouter": {}})
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/providers.py").run()
    at.text_input(key="key_input_huggingface").set_value("sk-or-v1-" + "1" * 64).run()
    assert not at.exception
    assert any("Not saved" in e.value for e in at.error)
    assert at.session_state["keys"] == {}


def test_a_fixed_config_is_picked_up_without_a_restart(fresh_app, fake):
    path = fresh_app / "agentic-config.yaml"
    path.write_text("alpha:\n  url: [unclosed\n", encoding="utf-8")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("could not be loaded" in e.value for e in at.error)
    at.switch_page("pages/metrics.py").run()            # a page that needs no provider keeps working
    assert not at.exception and at.title[0].value.endswith("Metrics")
    assert any("could not be loaded" in w.value for w in at.warning)

    write_config(fresh_app, {"alpha": {"url": fake.url, "api_key": "shared-alpha", "models": ["fake/small"]}})
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    assert not any("could not be loaded" in e.value for e in at.error)
    assert "alpha" in " ".join(m.value for m in at.markdown)


def test_service_root_reloads_rules_in_place_and_config_by_rebuilding(tmp_path, fake):
    write_config(tmp_path, {"alpha": {"url": fake.url, "api_key": "k", "models": ["fake/small"]}})
    root = ServiceRoot(env={}, cwd=tmp_path)
    first = root.current()
    assert root.current() is first                     # nothing changed: the same services
    write_config(tmp_path, {"alpha": {"url": fake.url, "api_key": "k", "models": ["fake/other"]}})
    second = root.current()
    assert second is not first and second.reloaded and second.store is first.store
    assert second.config.provider("alpha").models == ["fake/other"]
    root.shutdown()


def test_chat_lists_providers_in_this_sessions_order_without_switched_off_ones(fresh_app, fake, fake_b):
    write_config(fresh_app, two_endpoints(fake, fake_b))
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page("pages/providers.py").run()
    at.number_input(key="priority_beta").set_value(1).run()
    at.switch_page("pages/chat.py").run()
    box = at.selectbox(key="chat_provider")
    assert box.options[1].startswith("beta · priority 1 · 🟢 ready")
    at.switch_page("pages/providers.py").run()
    at.toggle(key="enabled_alpha").set_value(False).run()
    at.switch_page("pages/chat.py").run()
    assert [o.split(" · ")[0] for o in at.selectbox(key="chat_provider").options] == ["auto (manager decides)", "beta"]


def test_the_shared_root_is_kept_while_the_environment_is_and_replaced_when_it_changes(monkeypatch, tmp_path):
    """`ServiceRoot.shared()` compares the environment cheaply on every API request; a changed variable or
    folder must still give a new root (and the old one is shut down)."""
    monkeypatch.chdir(tmp_path)
    first = ServiceRoot.shared()
    assert ServiceRoot.shared() is first
    monkeypatch.setenv("SPACES_OS_DB", str(tmp_path / "other.db"))
    second = ServiceRoot.shared()
    assert second is not first and second.current().store.path == str(tmp_path / "other.db")
    assert ServiceRoot.shared() is second
    monkeypatch.chdir(tmp_path.parent)
    assert ServiceRoot.shared() is not second
    ServiceRoot.shared().shutdown()
