"""The Hub tool registry: schemas, argument checking, and calls that reach the fake Hub."""

from __future__ import annotations

import json

import pytest

from core.hub.client import HubClient, SearchCache
from core.hub.errors import HubActionError, HubErrorKind
from core.hub.spaces import SpaceManager
from core.tools.registry import (
    Tool,
    ToolArgumentError,
    ToolNotFoundError,
    ToolRegistry,
    build_hub_tools,
    validate_arguments,
)
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeSpace

TOKEN = SENTINEL_HF


@pytest.fixture
def fake_hub(fake_hub: FakeHub) -> FakeHub:
    """conftest's fake Hub (TOKEN is alice's) with one Space of hers that has run logs."""
    fake_hub.add_space(FakeSpace("alice/app", sdk="docker", private=True,
                                 run_logs=[f"line {i}\n" for i in range(8)]))
    return fake_hub


@pytest.fixture
def tools(fake_hub: FakeHub) -> ToolRegistry:
    hub = HubClient(fake_hub.url, TOKEN, router_url=fake_hub.router_url, cache=SearchCache())
    return build_hub_tools(hub, SpaceManager(hub, session="s"))


# --------------------------------------------------------------------------- the registry


def test_registry_lists_the_hub_tools_and_flags_the_mutating_ones(tools: ToolRegistry) -> None:
    assert tools.names() == ["search_spaces", "search_models", "search_datasets", "search_papers", "search_docs",
                             "model_details", "dataset_details", "space_status", "my_spaces", "space_logs",
                             "restart_space", "pause_space", "delete_space"]
    assert {t.name for t in tools.list() if t.mutating} == {"restart_space", "pause_space", "delete_space"}
    assert "delete_space" not in {t.name for t in tools.list(include_mutating=False)}
    for tool in tools.list():
        assert tool.description and tool.parameters["type"] == "object"
        assert tool.parameters["additionalProperties"] is False
        json.dumps(tool.parameters)


def test_without_a_space_manager_only_read_tools_exist(fake_hub: FakeHub) -> None:
    registry = build_hub_tools(HubClient(fake_hub.url, None))
    assert "space_status" in registry and "restart_space" not in registry and "space_logs" not in registry
    assert not any(t.mutating for t in registry.list())


def test_schemas_for_chat_completions_and_mcp(tools: ToolRegistry) -> None:
    openai = {t["function"]["name"]: t for t in tools.openai_tools()}
    assert openai["search_models"]["type"] == "function"
    assert openai["search_models"]["function"]["parameters"]["properties"]["sort"]["enum"] == [
        "trending", "likes", "created", "modified", "downloads"]
    mcp = {t["name"]: t for t in tools.mcp_tools()}
    assert mcp["delete_space"]["inputSchema"]["required"] == ["space_id", "confirm"]
    assert mcp["delete_space"]["annotations"] == {"readOnlyHint": False, "destructiveHint": True}
    assert mcp["search_docs"]["annotations"]["readOnlyHint"] is True


def test_get_unknown_tool_and_duplicate_registration_are_refused(tools: ToolRegistry) -> None:
    with pytest.raises(ToolNotFoundError, match="No tool named 'rm_rf'"):
        tools.get("rm_rf")
    with pytest.raises(ValueError, match="already registered"):
        tools.register(tools.get("search_models"))
    with pytest.raises(ValueError, match="type 'object'"):
        ToolRegistry([Tool("bad", "d", {"type": "string"}, handler=lambda: None)])


# --------------------------------------------------------------------------- argument checking


SCHEMA = {"type": "object", "additionalProperties": False, "required": ["name"],
          "properties": {"name": {"type": "string", "minLength": 2, "maxLength": 5},
                         "n": {"type": "integer", "minimum": 1, "maximum": 3, "default": 2},
                         "ratio": {"type": "number"},
                         "mode": {"type": "string", "enum": ["a", "b"]},
                         "flag": {"type": "boolean"},
                         "tags": {"type": "array", "items": {"type": "string"}},
                         "maybe": {"type": ["string", "null"]}}}


def test_valid_arguments_get_defaults() -> None:
    assert validate_arguments(SCHEMA, {"name": "ab"}) == {"name": "ab", "n": 2}
    assert validate_arguments(SCHEMA, {"name": "ab", "n": 3, "ratio": 1, "mode": "b", "flag": False,
                                       "tags": ["x"], "maybe": None})["ratio"] == 1


@pytest.mark.parametrize(("arguments", "path", "words"), [
    ({}, "arguments.name", "is required"),
    ({"name": 5}, "arguments.name", "expected string, got integer"),
    ({"name": "a"}, "arguments.name", "at least 2 characters"),
    ({"name": "abcdef"}, "arguments.name", "at most 5 characters"),
    ({"name": "ab", "n": True}, "arguments.n", "expected integer, got boolean"),
    ({"name": "ab", "n": 1.5}, "arguments.n", "expected integer"),
    ({"name": "ab", "n": 0}, "arguments.n", "at least 1"),
    ({"name": "ab", "n": 4}, "arguments.n", "at most 3"),
    ({"name": "ab", "mode": "c"}, "arguments.mode", "one of 'a', 'b'"),
    ({"name": "ab", "tags": ["x", 1]}, "arguments.tags[1]", "expected string"),
    ({"name": "ab", "maybe": 1}, "arguments.maybe", "expected string or null"),
    ({"name": "ab", "extra": 1}, "arguments.extra", "unknown argument"),
    ("not an object", "arguments", "expected object, got string"),
])
def test_invalid_arguments_name_the_argument(arguments, path: str, words: str) -> None:
    with pytest.raises(ToolArgumentError) as caught:
        validate_arguments(SCHEMA, arguments)
    assert caught.value.path == path and words in str(caught.value)


@pytest.mark.parametrize(("schema", "arguments", "path", "words"), [
    ({"properties": {"code": {"type": "string", "pattern": "^[a-z]+$"}}}, {"code": "A1"}, "arguments.code",
     "must match the pattern '^[a-z]+$'"),
    ({"properties": {"ids": {"type": "array", "minItems": 1}}}, {"ids": []}, "arguments.ids", "at least 1 items"),
    ({"properties": {"when": {"$ref": "#/$defs/day"}}, "$defs": {"day": {"enum": ["mon", "tue"]}}}, {"when": "sun"},
     "arguments.when", "one of 'mon', 'tue'"),
    ({"properties": {"n": {"anyOf": [{"type": "integer"}, {"type": "null"}]}}}, {"n": "x"}, "arguments.n",
     "is not valid under any of the given schemas"),
])
def test_schemas_from_remote_servers_are_checked_in_full(schema, arguments, path: str, words: str) -> None:
    with pytest.raises(ToolArgumentError) as caught:
        validate_arguments({"type": "object", **schema}, arguments)
    assert caught.value.path == path and words in str(caught.value)


def test_a_tool_whose_schema_is_not_json_schema_is_refused() -> None:
    with pytest.raises(ValueError, match="not valid JSON Schema"):
        ToolRegistry([Tool("odd", "", {"type": "object", "properties": {"n": {"type": "integr"}}}, lambda n: n)])


def test_invalid_arguments_send_nothing(tools: ToolRegistry, fake_hub: FakeHub) -> None:
    for name, arguments in (("search_models", {"limit": 500}), ("search_spaces", {"sdk": "streamlit"}),
                            ("search_papers", {}), ("restart_space", {"space_id": "alice/app", "now": True})):
        with pytest.raises(ToolArgumentError):
            tools.call(name, arguments)
    assert fake_hub.requests == []


# --------------------------------------------------------------------------- calls reach the Hub


def test_search_models_tool_sends_the_filters_and_returns_json(tools: ToolRegistry, fake_hub: FakeHub) -> None:
    result = tools.call("search_models", {"query": "llama", "task": "text-generation", "inference_provider": "groq",
                                          "limit": 3})
    sent = fake_hub.last("GET", "/api/models")
    assert (sent.param("search"), sent.param("pipeline_tag"), sent.param("inference_provider"), sent.param("limit"),
            sent.param("sort")) == ("llama", "text-generation", "groq", "4", "downloads")
    assert result["kind"] == "models" and result["items"][0]["id"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert json.loads(json.dumps(result)) == result


def test_semantic_space_search_tool_drops_the_sort(tools: ToolRegistry, fake_hub: FakeHub) -> None:
    result = tools.call("search_spaces", {"query": "greets you", "semantic": True})
    assert fake_hub.last("GET", "/api/spaces/semantic-search").param("q") == "greets you"
    assert result["items"][0]["id"] == "gradio/hello-world"


def test_model_details_tool_returns_providers_with_prices(tools: ToolRegistry) -> None:
    result = tools.call("model_details", {"repo_id": "meta-llama/Llama-3.1-8B-Instruct"})
    groq = next(p for p in result["providers"] if p["provider"] == "groq")
    assert (groq["price_input"], groq["price_output"]) == (0.05, 0.08)
    json.dumps(result)


def test_space_tools_status_logs_restart(tools: ToolRegistry, fake_hub: FakeHub) -> None:
    status = tools.call("space_status", {"space_id": "alice/app"})
    assert (status["stage"], status["sdk"]) == ("RUNNING", "docker")

    logs = tools.call("space_logs", {"space_id": "alice/app", "max_lines": 3})
    assert logs == {"space_id": "alice/app", "build": False, "lines": ["line 5", "line 6", "line 7"],
                    "truncated": True}

    restarted = tools.call("restart_space", {"space_id": "alice/app"})
    assert restarted["stage"] == "APP_STARTING"
    assert fake_hub.last("POST", "/api/spaces/alice/app/restart").param("factory") is None
    assert [s["id"] for s in tools.call("my_spaces", {})] == ["alice/app"]


def test_delete_tool_needs_the_exact_id_and_failures_read_well(tools: ToolRegistry, fake_hub: FakeHub) -> None:
    with pytest.raises(HubActionError) as caught:
        tools.call("delete_space", {"space_id": "alice/app", "confirm": "yes"})
    assert caught.value.kind == HubErrorKind.NOT_CONFIRMED
    assert fake_hub.requests_to("DELETE", "/api/repos/delete") == []

    refused = tools.call_safely("delete_space", {"space_id": "alice/app", "confirm": "yes"})
    assert refused["ok"] is False and refused["error"]["kind"] == "not_confirmed"
    bad = tools.call_safely("search_models", {"limit": 0})
    assert bad["ok"] is False and bad["error"]["kind"] == "invalid_input" and "arguments.limit" in bad["error"]["message"]

    assert tools.call_safely("delete_space", {"space_id": "alice/app", "confirm": "alice/app"}) == {
        "ok": True, "result": {"deleted": "alice/app"}}
    assert "alice/app" not in fake_hub.spaces


def test_hub_errors_come_back_as_structured_tool_errors(tools: ToolRegistry, fake_hub: FakeHub) -> None:
    fake_hub.fail("/api/datasets", 429, retry_after=12)
    result = tools.call_safely("search_datasets", {"query": "x"})
    assert result == {"ok": False, "error": {"kind": "rate_limited", "message": result["error"]["message"],
                                             "hint": result["error"]["hint"], "status": 429, "retry_after": 12.0}}
    assert "retry after 12 s" in result["error"]["message"]
