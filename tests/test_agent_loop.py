"""The tool-using chat loop against a real local model server (FakeOpenAI emitting `tool_calls`) and the
fake Hub: round trips, schema errors fed back, the confirmation gate, the limits, the events log, demo mode."""

from __future__ import annotations

import json

import pytest

from core.hub.client import HubClient, SearchCache
from core.hub.spaces import SpaceManager
from core.llm.config import load_config
from core.llm.router import Router
from core.store import Store
from core.tools.agent_loop import AgentLoop
from core.tools.registry import Tool, ToolRegistry, build_hub_tools
from tests.conftest import SENTINEL_HF, SENTINEL_KEY
from tests.fake_hub import FakeHub, FakeModel, FakeSpace
from tests.fake_openai import Reply

USER = [{"role": "user", "content": "find me something"}]


def call(name: str, arguments: dict | str, call_id: str = "c1") -> dict:
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}


@pytest.fixture(scope="module")
def hub_server():
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def hub(hub_server: FakeHub) -> FakeHub:
    hub_server.reset()
    hub_server.add_token(SENTINEL_HF, user="alice")
    hub_server.add_space(FakeSpace("alice/app", sdk="docker"))
    hub_server.add_model(FakeModel("cardiffnlp/twitter-roberta-base-sentiment-latest",
                                   pipeline_tag="text-classification", downloads=2_000_000, likes=700))
    return hub_server


@pytest.fixture
def store(db_path: str) -> Store:
    return Store(db_path)


@pytest.fixture
def tools(hub: FakeHub, store: Store) -> ToolRegistry:
    client = HubClient(hub.url, SENTINEL_HF, router_url=hub.router_url, cache=SearchCache())
    return build_hub_tools(client, SpaceManager(client, store=store, session="s"))


@pytest.fixture
def router(fake, store: Store) -> Router:
    config = load_config({"local": {"url": fake.url, "api_key": "shared-local", "models": ["fake/small"]}}, env={})
    return Router(config, store)


def tool_messages(request) -> list[dict]:
    return [m for m in request.body["messages"] if m["role"] == "tool"]


# --------------------------------------------------------------------------- the round trip


def test_a_tool_call_runs_against_the_hub_and_its_result_is_fed_back_to_the_model(fake, router, tools, hub):
    fake.queue(Reply(tool_calls=[call("search_models", {"query": "llama", "task": "text-generation"})]),
               Reply("Llama 3.1 8B Instruct is the most downloaded."))
    result = AgentLoop(router, tools).run(USER, session="s")

    assert result.stop_reason == "answered" and result.text == "Llama 3.1 8B Instruct is the most downloaded."
    first, second = fake.chat_requests
    assert "search_models" in {t["function"]["name"] for t in first.body["tools"]}
    assert hub.last("GET", "/api/models").param("search") == "llama"
    assistant = second.body["messages"][-2]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "c1"
    [fed_back] = tool_messages(second)
    assert fed_back["tool_call_id"] == "c1"
    assert json.loads(fed_back["content"])["result"]["items"][0]["id"] == "meta-llama/Llama-3.1-8B-Instruct"
    [step] = result.steps
    assert (step.name, step.outcome, step.arguments["query"]) == ("search_models", "ok", "llama")
    assert step.duration_ms >= 0 and step.title.startswith("search_models(")
    assert result.messages[-1] == {"role": "assistant", "content": result.text}


def test_schema_errors_go_back_to_the_model_which_fixes_its_call(fake, router, tools, hub):
    fake.queue(Reply(tool_calls=[call("search_models", {"query": "llama", "limit": 500})]),
               Reply(tool_calls=[call("search_models", {"query": "llama", "limit": 5}, "c2")]),
               Reply("Found them."))
    result = AgentLoop(router, tools).run(USER)

    assert [s.outcome for s in result.steps] == ["invalid_arguments", "ok"]
    error = json.loads(tool_messages(fake.chat_requests[1])[0]["content"])["error"]
    assert error["kind"] == "invalid_arguments"
    assert "arguments.limit" in error["message"] and "at most 50" in error["message"]
    assert len(hub.requests_to("GET", "/api/models")) == 1, "the invalid call must not reach the Hub"
    assert result.text == "Found them."


def test_malformed_json_and_unknown_tools_are_reported_to_the_model_not_raised(fake, router, tools):
    fake.queue(Reply(tool_calls=[call("search_models", "{not json", "c1"), call("launch_rocket", {}, "c2")]),
               Reply("Sorry."))
    result = AgentLoop(router, tools).run(USER)

    assert [s.outcome for s in result.steps] == ["invalid_arguments", "unknown_tool"]
    bad_json, unknown = (json.loads(m["content"])["error"] for m in tool_messages(fake.chat_requests[1]))
    assert "not valid JSON" in bad_json["message"]
    assert "launch_rocket" in unknown["message"] and "search_models" in unknown["message"]


# --------------------------------------------------------------------------- the confirmation gate


def test_delete_space_waits_for_confirmation_and_the_hub_sees_no_delete_until_approved(fake, router, tools, hub):
    fake.queue(Reply(tool_calls=[call("delete_space", {"space_id": "alice/app", "confirm": "alice/app"})]))
    loop = AgentLoop(router, tools)
    result = loop.run([{"role": "user", "content": "delete alice/app"}], session="s")

    pending = result.pending
    assert result.stop_reason == "awaiting_confirmation" and pending is not None
    assert pending.tool == "delete_space" and pending.shown_arguments["space_id"] == "alice/app"
    assert pending.summary == "Delete the Space alice/app for good. This cannot be undone."
    assert hub.requests_to("DELETE") == [] and "alice/app" in hub.spaces
    assert len(fake.chat_requests) == 1 and result.steps == []

    fake.queue(Reply("alice/app is deleted."))
    done = loop.continue_after_confirmation(pending, approved=True)

    assert len(hub.requests_to("DELETE", "/api/repos/delete")) == 1 and "alice/app" not in hub.spaces
    assert [(s.name, s.outcome) for s in done.steps] == [("delete_space", "ok")]
    assert done.text == "alice/app is deleted." and done.pending is None
    assert json.loads(tool_messages(fake.chat_requests[-1])[0]["content"]) == {"ok": True,
                                                                                "result": {"deleted": "alice/app"}}
    with pytest.raises(ValueError, match="already approved"):
        loop.continue_after_confirmation(pending, approved=True)


def test_a_declined_call_is_reported_to_the_model_and_changes_nothing(fake, router, tools, hub):
    fake.queue(Reply(tool_calls=[call("restart_space", {"space_id": "alice/app", "factory": True})]))
    loop = AgentLoop(router, tools)
    pending = loop.run(USER).pending
    assert pending.summary == "Restart the Space alice/app and rebuild it from scratch."

    fake.queue(Reply("Fine, I left it alone."))
    done = loop.continue_after_confirmation(pending, approved=False)

    assert hub.requests_to("POST", "/api/spaces/alice/app/restart") == []
    assert done.steps[0].outcome == "refused" and done.text == "Fine, I left it alone."
    assert "declined" in json.loads(tool_messages(fake.chat_requests[-1])[0]["content"])["error"]["message"]


def test_read_calls_before_a_mutating_one_run_and_the_rest_wait_behind_the_gate(fake, router, tools, hub):
    fake.queue(Reply(tool_calls=[call("space_status", {"space_id": "alice/app"}, "c1"),
                                 call("pause_space", {"space_id": "alice/app"}, "c2"),
                                 call("space_status", {"space_id": "alice/app"}, "c3")]))
    loop = AgentLoop(router, tools)
    result = loop.run(USER)
    assert [s.call_id for s in result.steps] == ["c1"] and result.pending.call_id == "c2"

    fake.queue(Reply("Paused."))
    done = loop.continue_after_confirmation(result.pending, approved=True)
    assert [s.call_id for s in done.steps] == ["c1", "c2", "c3"]
    assert [m["tool_call_id"] for m in tool_messages(fake.chat_requests[-1])] == ["c1", "c2", "c3"]


def test_mutating_tools_can_be_withheld_from_the_model(fake, router, tools):
    fake.queue(Reply(tool_calls=[call("delete_space", {"space_id": "alice/app", "confirm": "alice/app"})]),
               Reply("I can't."))
    result = AgentLoop(router, tools, offer_mutating=False).run(USER)
    offered = {t["function"]["name"] for t in fake.chat_requests[0].body["tools"]}
    assert "delete_space" not in offered and "search_models" in offered
    assert result.pending is None and result.steps[0].outcome == "unknown_tool"


# --------------------------------------------------------------------------- limits


def test_the_step_limit_ends_a_runaway_loop_with_a_clear_message(fake, router, tools):
    fake.default = Reply(tool_calls=[call("search_models", {"query": "llama"})])
    result = AgentLoop(router, tools, max_steps=3).run(USER)

    assert result.stop_reason == "step_limit" and result.pending is None
    assert "stopped after 3 rounds of tool calls" in result.text and "search_models" in result.text
    assert "step limit" in result.text
    assert len(result.steps) == 3 and len(fake.chat_requests) == 4


def test_the_token_budget_stops_the_loop_before_more_tools_run(fake, router, tools, hub):
    fake.queue(Reply(tool_calls=[call("search_models", {"query": "llama"})], tokens_in=5_000, tokens_out=50))
    result = AgentLoop(router, tools, token_budget=1_000).run(USER)

    assert result.stop_reason == "token_budget" and result.tokens_used == 5_050
    assert "budget is 1,000" in result.text
    assert result.steps == [] and hub.requests_to("GET", "/api/models") == []


# --------------------------------------------------------------------------- the events log


def test_each_tool_call_is_an_events_row_with_its_secrets_redacted(fake, router, store):
    seen = {}

    def lookup(query: str, api_key: str = "") -> dict:
        seen.update(query=query, api_key=api_key)
        return {"echo": query}

    registry = ToolRegistry([Tool("lookup", "Look something up.", {
        "type": "object", "properties": {"query": {"type": "string"}, "api_key": {"type": "string"}},
        "required": ["query"], "additionalProperties": False}, lookup)])
    fake.queue(Reply(tool_calls=[call("lookup", {"query": f"about {SENTINEL_KEY}", "api_key": "sk-live-123"})]),
               Reply("ok"))
    AgentLoop(router, registry).run(USER, keys={"local": SENTINEL_KEY}, session="s", task_id="t1")

    assert seen == {"query": f"about {SENTINEL_KEY}", "api_key": "sk-live-123"}, "the tool gets the real values"
    [event] = store.events(kinds=["tool_call"])
    assert event["task_id"] == "t1" and event["message"].startswith("lookup: ok")
    data = event["data"]
    assert (data["name"], data["outcome"], data["call_id"]) == ("lookup", "ok", "c1")
    assert data["duration_ms"] >= 0 and data["session"]
    assert data["arguments"]["api_key"] == "•••"
    assert SENTINEL_KEY not in json.dumps(event) and "sk-live-123" not in json.dumps(event)
    assert SENTINEL_KEY not in tool_messages(fake.chat_requests[1])[0]["content"]


def test_mcp_style_tool_names_are_offered_under_api_safe_names(fake, router):
    registry = ToolRegistry([Tool("hf.hub_repo_search", "Search the Hub.", {"type": "object", "properties": {}},
                                  lambda: {"hits": 3})])
    fake.queue(Reply(tool_calls=[call("hf_hub_repo_search", {})]), Reply("3 hits"))
    result = AgentLoop(router, registry).run(USER)
    assert [t["function"]["name"] for t in fake.chat_requests[0].body["tools"]] == ["hf_hub_repo_search"]
    assert (result.steps[0].name, result.steps[0].outcome) == ("hf.hub_repo_search", "ok")


# --------------------------------------------------------------------------- demo mode


@pytest.fixture
def demo_router(store: Store) -> Router:
    return Router(load_config({}, env={}), store)


@pytest.mark.parametrize(("prompt", "tool", "arguments", "answer"), [
    ("Find a sentiment model", "search_models", {"query": "sentiment", "task": "text-classification"},
     "cardiffnlp/twitter-roberta-base-sentiment-latest"),
    ("What's the status of alice/app?", "space_status", {"space_id": "alice/app"}, "is **RUNNING**"),
    ("find spaces about app", "search_spaces", {"query": "app"}, "alice/app"),
])
def test_the_demo_provider_plans_a_tool_call_offline_and_answers_from_its_result(
        demo_router, tools, hub, prompt, tool, arguments, answer):
    result = AgentLoop(demo_router, tools).run([{"role": "user", "content": prompt}])

    assert result.demo and result.stop_reason == "answered"
    [step] = result.steps
    assert step.name == tool and step.outcome == "ok"
    assert arguments.items() <= step.arguments.items()
    assert answer in result.text and "Demo model" in result.text


def test_the_demo_provider_answers_as_usual_when_no_tool_fits(demo_router, tools):
    result = AgentLoop(demo_router, tools).run([{"role": "user", "content": "What's 2+2?"}])
    assert result.steps == [] and result.text == "2 + 2 = 4."
