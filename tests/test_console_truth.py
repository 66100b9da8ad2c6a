"""Issue 15, "a console that tells the truth at a glance": numbers that were wrong, messages that misled,
small things a user notices. Pure functions where the behaviour lives in one, AppTest where it is a page."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.providers import cooldown_badge
from core.app.services import build_services
from core.app.views import charts, guide
from core.app.views.chat import agent_facts, run_compare
from core.app.views.home import error_rate_text
from core.app.views.route_graph import VIS_OPTIONS, build_route_graph, to_agraph
from core.demo.tools import demo_tool_turn, plan_tool_call
from core.errors import AllProvidersFailed
from core.llm.breaker import CircuitBreakers
from core.llm.providers.demo import demo_answer
from core.llm.router import Attempt
from core.store import Store

APP = str(Path(__file__).resolve().parents[1] / "Home.py")


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    yield tmp_path
    st.cache_resource.clear()


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30).run()


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info] + \
            [e.value for e in at.error] + [w.value for w in at.warning] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


# ---------------------------------------------------------------------- numbers


def _ms(line: str, pattern: str) -> float:
    m = re.search(pattern, line)
    assert m, line
    return float(m.group(1).replace(",", ""))


def test_compare_mode_measures_latency_and_time_to_first_token(fresh):
    svc = build_services(env={"SPACES_OS_DB": str(fresh / "db.sqlite")}, cwd=fresh)
    demo = next(p for p in svc.router.providers.values() if p.config.kind == "demo")
    targets = [f"demo · {m}" for m in demo.config.models[:2]]

    items = run_compare(svc.router, "Tell me about caching in two sentences", targets, {}, "s1")

    for item in items:
        assert "error" not in item, item
        latency = _ms(item["facts"], r"([\d,]+) ms \(TTFT")
        ttft = _ms(item["facts"], r"TTFT ([\d,]+) ms\)")
        assert latency > 0 and 0 < ttft < latency       # streamed: the first token comes before the end


def test_a_hub_tool_reply_shows_the_time_of_the_whole_turn_not_its_last_model_call():
    last = SimpleNamespace(provider="demo", model="demo/quick-1", key_source="demo", latency_ms=0.03, ttft_ms=0.03,
                           usage=SimpleNamespace(tokens_out=12, cost_usd=0.0), attempts=[], demo=True)
    result = SimpleNamespace(last=last, steps=[SimpleNamespace(duration_ms=2150.0)])

    assert "2,150 ms in all" in agent_facts(result)
    assert "2,400 ms in all" in agent_facts(result, elapsed_ms=2400.0)
    assert " 0 ms" not in agent_facts(result)


def test_error_rate_is_a_dash_with_nothing_attempted():
    assert error_rate_text({"attempts": 0, "error_rate": 0.0}) == "—"
    assert error_rate_text({"attempts": 8, "error_rate": 0.25}) == "25.0%"


def test_home_and_metrics_show_a_dash_for_the_error_rate_of_zero_requests(fresh):
    at = app()
    assert {m.label: m.value for m in at.metric}["Error rate"] == "—"
    at.switch_page("pages/metrics.py").run()
    assert {m.label: m.value for m in at.metric}["Error rate"] == "—"


def test_failed_chains_are_counted_apart_from_fallbacks(tmp_path):
    store = Store(str(tmp_path / "db.sqlite"))
    now = time.time()
    base = {"session": "s", "model": "m", "key_source": "shared", "tokens_in": 1, "tokens_out": 1, "cost_usd": 0.0,
            "label": "QUICK", "latency_ms": 10}
    store.bulk_insert_usage([
        {**base, "request_id": "fell-back", "ts": now - 30, "provider": "alpha", "attempt": 1, "outcome": "auth"},
        {**base, "request_id": "fell-back", "ts": now - 29, "provider": "beta", "attempt": 2, "outcome": "ok"},
        {**base, "request_id": "all-failed", "ts": now - 20, "provider": "alpha", "attempt": 1, "outcome": "auth"},
        {**base, "request_id": "all-failed", "ts": now - 19, "provider": "beta", "attempt": 2,
         "outcome": "unavailable"},
        {**base, "request_id": "fine", "ts": now - 10, "provider": "alpha", "attempt": 1, "outcome": "ok"},
    ])

    rows = {r["provider"]: r for r in store.error_fallback_rates(now - 3600, now + 1)}

    assert (rows["alpha"]["fallbacks"], rows["alpha"]["failed_chains"], rows["alpha"]["requests"]) == (1, 1, 3)
    assert rows["alpha"]["failed_chain_rate"] == pytest.approx(1 / 3)
    assert (rows["beta"]["fallbacks"], rows["beta"]["failed_chains"]) == (0, 1)
    fig = charts.error_rates_chart(list(rows.values()))
    chains = next(t for t in fig.data if t.name == "every provider failed")
    assert list(chains.y) == pytest.approx([100 / 3, 50.0]) and chains.xaxis == "x2"


def test_the_error_chart_titles_fit_their_half_and_the_page_defines_the_rate(fresh):
    fig = charts.error_rates_chart([{"provider": "A", "attempts": 2, "ok": 1, "errors_by_kind": {"auth": 1},
                                     "requests": 2, "fallbacks": 1, "fallback_rate": 0.5}])
    subtitles = [a.text for a in fig.layout.annotations]
    assert all("<br>" in t and max(len(part) for part in t.split("<br>")) <= 28 for t in subtitles), subtitles
    assert fig.layout.margin.t >= 100 and fig.layout.title.yanchor == "top"
    at = app()
    at.switch_page("pages/metrics.py").run()
    assert "Fallback rate" in texts(at) and "Every provider failed" in texts(at)


def test_the_time_axis_fits_the_traffic_in_the_window():
    now = 1_700_000_000.0
    low, high = charts.fit_window((now - 1800, now - 60), now - 86400, now)
    assert now - 1900 < low < now - 1800 and now - 60 < high <= now
    assert charts.fit_window(None, now - 86400, now) == (now - 86400, now)
    low, high = charts.fit_window((now - 5, now - 5), now - 86400, now)
    assert high - low >= 600 and high <= now


def test_the_sunburst_names_every_slice():
    fig = charts.sunburst_chart([{"label": "unlabelled", "provider": "demo", "model": "demo/quick-1", "requests": 3},
                                 {"label": "TOOLS", "provider": "demo", "model": "demo/quick-1", "requests": 1}])
    (sun,) = fig.data
    assert all(sun.labels) and "no label" in sun.labels
    assert fig.layout.uniformtext.mode == "show"
    colors = dict(zip(sun.ids, sun.marker.colors, strict=True))
    assert colors["TOOLS"] != charts.PALETTE[-1]


# ---------------------------------------------------------------------- messages


def test_all_providers_failed_merges_repeats_and_advises_by_cause():
    dns = "openrouter.ai could not be resolved (gaierror)"
    attempts = [Attempt("huggingface", "m", "shared", "auth", http_status=401, error="Invalid credentials"),
                *[Attempt("openrouter", "x", "shared", "unavailable", error=dns)] * 3]

    text = str(AllProvidersFailed(attempts))

    assert "- 3 × openrouter / x with shared key: unavailable: " + dns + "." in text
    assert text.count("openrouter / x") == 1
    assert "\n\nWhat to do: " in text                          # its own paragraph, not run on in the list
    assert "check the key on the Providers page" in text       # for the refused key
    assert "check the network connection and the provider's URL" in text   # for the DNS failure
    only_dns = str(AllProvidersFailed([Attempt("openrouter", "x", "shared", "unavailable", error=dns)]))
    assert "Providers page" not in only_dns


def test_a_cooldown_says_it_is_shared_and_what_caused_it():
    breakers = CircuitBreakers(failure_threshold=3, cooldown=30, clock=lambda: 100.0)
    for _ in range(3):
        breakers.record_failure("openrouter", cause="unavailable (HTTP 503)")

    badge = cooldown_badge(breakers.snapshot("openrouter"))

    assert "for everyone" in badge and "shared by every session" in badge
    assert "3 failures in a row" in badge and "unavailable (HTTP 503)" in badge


def test_the_demo_report_title_reads_as_english():
    text = demo_answer([{"role": "user", "content": "Write a detailed report on the pros and cons of "
                                                    "microservices vs monolith architecture"}])
    assert "# Report: The pros and cons of microservices vs monolith architecture" in text
    assert "pros cons" not in text


def test_demo_mode_plans_a_space_restart_which_asks_for_confirmation(fresh):
    tools = [{"type": "function", "function": {"name": n}} for n in ("restart_space", "space_status")]
    assert plan_tool_call("restart the space alice/demo", {"restart_space"}) == (
        "restart_space", {"space_id": "alice/demo"})
    turn = demo_tool_turn([{"role": "user", "content": "restart the space alice/demo"}], tools)
    assert turn.tool_calls[0]["function"]["name"] == "restart_space"

    at = app()
    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("restart the space alice/demo").run()
    assert not at.exception
    assert at.session_state["pending_tool"] is not None
    assert "The agent wants to change something.** Restart the Space alice/demo" in texts(at)
    assert {"Approve", "Decline"} <= {b.label for b in at.button}


# ---------------------------------------------------------------------- small things


def test_a_whitespace_only_message_creates_nothing(fresh):
    at = app()
    at.switch_page("pages/chat.py").run()
    at.chat_input[0].set_value("   \n\t ").run()
    assert not at.exception
    assert len(at.chat_message) == 0
    assert at.session_state["messages"] == []


def test_the_routing_graph_passes_only_options_vis_network_knows():
    graph = build_route_graph([{"name": "demo", "kind": "demo", "models": ["demo/quick-1"], "status": "demo"}])
    _nodes, _edges, config = to_agraph(graph)
    options = json.loads(json.dumps(config.__dict__))
    assert set(options) <= VIS_OPTIONS
    assert not {"direction", "sortMethod", "levelSeparation", "nodeSpacing"} & set(options)
    assert options["layout"]["hierarchical"]["direction"] == "LR"


def test_home_cards_do_not_repeat_themselves(fresh):
    body = texts(app())
    assert "huggingface · huggingface" not in body and "openrouter · openrouter" not in body
    assert "priority 0" not in body


def test_how_it_works_page_explains_the_manager_and_has_snippets_that_work(fresh, monkeypatch):
    at = app()
    at.switch_page("pages/how_it_works.py").run()
    assert not at.exception
    body = texts(at)
    assert "manager agent" in body and "pauses" in body
    codes = [c.value.strip() for c in at.code]
    assert guide.PYTHON_SNIPPET.strip() in codes and guide.MCP_CONFIG.strip() in codes
    assert all(prompt in codes for _, prompt, _ in guide.SCENARIOS)
    assert "Coming:" in body
    json.loads(guide.MCP_CONFIG)
    monkeypatch.setenv("SPACES_OS_DB", str(fresh / "snippet.db"))
    exec(compile(guide.PYTHON_SNIPPET, "snippet", "exec"), {})          # runs offline in demo mode


def test_the_build_tab_names_the_paid_kinds_before_the_choice():
    from core.app.views.build import SDK_OPTION_LABELS, SDK_PLAN_NOTE
    assert "paid" in SDK_OPTION_LABELS["docker-streamlit"] and "paid" in SDK_OPTION_LABELS["gradio"]
    assert "free" in SDK_OPTION_LABELS["static"] and "Docker and Gradio Spaces need a paid" in SDK_PLAN_NOTE
