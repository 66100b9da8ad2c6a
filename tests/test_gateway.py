"""The HTTP API on the console's own port, through real clients: `streamlit run Home.py` in a subprocess,
the official openai SDK, huggingface_hub's InferenceClient, plain httpx, and schemathesis on the OpenAPI document."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from core.app.gateway.tokens import TokenService, TokenSpec
from core.store import Store
from tests.browser import streamlit_server

SHARED = "sk-or-v1-SHAREDgateway0000000000000000000000000000"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("gw") / "demo.db"
    with streamlit_server({"SPACES_OS_DB": str(db), "HF_TOKEN": "", "OPENROUTER_API_KEY": "",
                           "OPENROUTER_KEY": "", "AGENTIC_CONFIG": ""}) as base:
        yield base


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, fake_server):
    """A console with a shared key for an OpenAI-compatible upstream (the local fake), so tokens matter."""
    folder = tmp_path_factory.mktemp("gw_shared")
    config = folder / "agentic-config.yaml"
    config.write_text(f"local:\n  url: {fake_server.url}\n  api_key: shared-local-key\n  models: [fake-model]\n")
    db = folder / "shared.db"
    with streamlit_server({"SPACES_OS_DB": str(db), "AGENTIC_CONFIG": str(config), "HF_TOKEN": "",
                           "OPENROUTER_API_KEY": ""}) as base:
        yield base, Store(str(db))


def client(base: str, key: str = "not-needed") -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)


def test_health_and_streamlit_health_on_the_same_port(demo_server):
    assert httpx.get(demo_server + "/healthz").json() == {"status": "ok"}
    assert httpx.get(demo_server + "/_stcore/health").text == "ok"
    assert "<!--" in httpx.get(demo_server + "/").text     # the console's page is still served


def test_openai_sdk_chat_in_demo_mode_without_a_token(demo_server):
    reply = client(demo_server).chat.completions.create(model="auto", messages=[{"role": "user",
                                                                                  "content": "What's 2+2?"}])
    assert reply.choices[0].message.content
    assert reply.model.startswith("demo/")
    assert reply.usage.total_tokens > 0


def test_openai_sdk_stream_ends_with_usage_chunk(demo_server):
    chunks = list(client(demo_server).chat.completions.create(
        model="auto", stream=True, messages=[{"role": "user", "content": "hi"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0


def test_openai_sdk_errors_have_openai_shape_and_status(demo_server):
    with pytest.raises(openai.BadRequestError) as err:
        client(demo_server).chat.completions.create(model="auto", messages=[])
    assert err.value.status_code == 400 and err.value.code == "invalid_messages"
    with pytest.raises(openai.BadRequestError) as err:
        client(demo_server).chat.completions.create(model="nosuch/x", messages=[{"role": "user", "content": "x"}])
    assert err.value.body["type"] == "invalid_request_error"


def test_openai_sdk_tools_pass_through(demo_server):
    tools = [{"type": "function", "function": {"name": "search_spaces", "description": "Search Spaces",
                                                "parameters": {"type": "object", "properties": {
                                                    "query": {"type": "string"}}}}}]
    reply = client(demo_server).chat.completions.create(
        model="demo", tools=tools, messages=[{"role": "user", "content": "search spaces for image generation"}])
    choice = reply.choices[0]
    assert choice.finish_reason in ("tool_calls", "stop")
    if choice.message.tool_calls:
        assert choice.message.tool_calls[0].function.name == "search_spaces"


def test_models_and_metrics(demo_server):
    ids = [m.id for m in client(demo_server).models.list()]
    assert "auto" in ids and any(i.startswith("demo/") for i in ids)
    text = httpx.get(demo_server + "/metrics").text
    assert "spaces_os_api_requests_total" in text and "spaces_os_provider_attempts_total" in text


def test_huggingface_inference_client(demo_server):
    from huggingface_hub import InferenceClient
    out = InferenceClient(base_url=demo_server + "/v1", api_key="unused").chat_completion(
        messages=[{"role": "user", "content": "What's 2+2?"}], model="auto")
    assert out.choices[0].message.content


def test_rest_providers_route_and_openapi(demo_server):
    providers = httpx.get(demo_server + "/api/providers").json()
    assert providers["demo"] is True
    plan = httpx.post(demo_server + "/api/providers/route", json={"prompt": "What's 2+2?"}).json()
    assert plan["candidates"][0]["provider"] == "demo"
    doc = httpx.get(demo_server + "/api/openapi.json").json()
    assert "/v1/chat/completions" in doc["paths"]


def test_writing_to_spaces_needs_a_token_even_in_demo_mode(demo_server):
    r = httpx.post(demo_server + "/api/spaces/me/demo/restart")
    assert r.status_code == 403 and r.json()["error"]["code"] == "missing_scope"


def test_schemathesis_against_the_openapi_document(demo_server):
    """Generated requests never get a 5xx, and every refusal is in OpenAI's error shape."""
    import schemathesis
    from hypothesis import given, settings

    schema = schemathesis.openapi.from_url(demo_server + "/api/openapi.json")
    failures = []

    def checker(operation):
        @settings(max_examples=15, deadline=None, database=None)
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call()
            assert response.status_code < 500, (operation.label, response.status_code, response.text[:300])
            if response.status_code >= 400:
                assert set(response.json()["error"]) >= {"message", "type", "code"}, operation.label
        return check

    for path in ("/healthz", "/v1/models", "/api/providers", "/api/providers/route", "/api/tasks/{task_id}",
                 "/v1/chat/completions"):
        for operation in schema[path].values():
            try:
                checker(operation)()
            except AssertionError as e:
                failures.append(str(e)[:500])
    assert not failures


# --------------------------------------------------------------------------- shared keys: tokens, scopes, budgets

def test_shared_keys_need_a_console_token(shared_server):
    base, _ = shared_server
    with pytest.raises(openai.AuthenticationError) as err:
        client(base).chat.completions.create(model="auto", messages=[{"role": "user", "content": "hi"}])
    assert err.value.status_code == 401


def test_token_chats_on_the_shared_key_and_usage_is_recorded(shared_server, fake_server):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("test", ("chat",)))
    reply = client(base, issued.token).chat.completions.create(
        model="local/fake-model", messages=[{"role": "user", "content": "hello"}])
    assert reply.model == "local/fake-model" and "hello" in reply.choices[0].message.content
    assert fake_server.chat_requests[-1].headers.get("authorization") == "Bearer shared-local-key"


def test_token_stream_relays_chunks(shared_server):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("stream", ("chat",)))
    chunks = list(client(base, issued.token).chat.completions.create(
        model="local/fake-model", stream=True, messages=[{"role": "user", "content": "stream please"}]))
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 5
    assert chunks[-1].usage is not None


def test_requests_per_minute_budget(shared_server):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("rpm", ("chat",), requests_per_minute=2))
    c = client(base, issued.token)
    for _ in range(2):
        c.chat.completions.create(model="local/fake-model", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as err:
        c.chat.completions.create(model="local/fake-model", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "rate_limited"


def test_tokens_per_day_budget(shared_server):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("tpd", ("chat",), tokens_per_day=1))
    c = client(base, issued.token)
    c.chat.completions.create(model="local/fake-model", messages=[{"role": "user", "content": "x"}])
    deadline = time.time() + 5
    while True:      # usage rows are written in the background (visible within 1 s)
        try:
            c.chat.completions.create(model="local/fake-model", messages=[{"role": "user", "content": "x"}])
        except openai.RateLimitError as err:
            assert err.code == "budget_exceeded"
            break
        assert time.time() < deadline, "the daily token budget was never enforced"
        time.sleep(0.3)


def test_scopes_and_revocation(shared_server):
    base, store = shared_server
    tokens = TokenService(store)
    issued = tokens.create(TokenSpec("read", ("spaces-read",)))
    headers = {"Authorization": f"Bearer {issued.token}"}
    r = httpx.post(base + "/v1/chat/completions", headers=headers, json={"messages": [{"role": "user",
                                                                                       "content": "x"}]})
    assert r.status_code == 403 and r.json()["error"]["code"] == "missing_scope"
    r = httpx.delete(base + "/api/spaces/me/demo", headers=headers)
    assert r.status_code == 403
    tokens.revoke(issued.grant.id)
    assert httpx.get(base + "/api/providers", headers=headers).status_code == 401


def test_token_providers_restrict_routing(shared_server):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("only-demo", ("chat",), providers=("demo",)))
    with pytest.raises(openai.PermissionDeniedError):
        client(base, issued.token).chat.completions.create(model="local/fake-model",
                                                           messages=[{"role": "user", "content": "x"}])


def test_tokens_are_stored_as_hashes(shared_server):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("hash", ("chat",)))
    rows = json.dumps([r.__class__.__name__ and vars_of(r) for r in store.access_tokens()])
    assert issued.token not in rows


def vars_of(row):
    return {f: getattr(row, f) for f in row.__slots__}
