"""The HTTP API on the console's own port, through real clients: `streamlit run Home.py` in a subprocess,
the official openai SDK, huggingface_hub's InferenceClient, plain httpx, and schemathesis on the OpenAPI document."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import openai
import pytest

from core.agent.classifier import Label, classify
from core.app.gateway.tokens import TokenService, TokenSpec
from core.llm.keys import session_hash
from core.store import Store
from tests.browser import streamlit_server
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeSpace
from tests.fake_openai import Reply, Status, model_answer

SHARED = "sk-or-v1-SHAREDgateway0000000000000000000000000000"
OPERATOR = "operator-token-for-the-gateway-tests"
REPORT = "Write a detailed report comparing three GPU clouds, with a migration plan."   # labelled COMPLEX
SHARED_HF = "hf_SHAREDgatewayHubToken000000000"
BYOK_OR = "sk-or-v1-BYOKcallerOwnKey1111111111111111111111111111"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, hub_server):
    """Demo mode (no provider key): the demo model answers, and Hub reads go to the fake Hub."""
    db = tmp_path_factory.mktemp("gw") / "demo.db"
    with streamlit_server({"SPACES_OS_DB": str(db), "HF_TOKEN": "", "OPENROUTER_API_KEY": "",
                           "OPENROUTER_KEY": "", "AGENTIC_CONFIG": "", "HF_ENDPOINT": hub_server.url,
                           "SPACES_OS_OPERATOR_TOKEN": OPERATOR}) as base:
        base.store = Store(str(db))
        yield base


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, fake_server):
    """A console with a shared key for an OpenAI-compatible upstream (the local fake), so tokens matter."""
    folder = tmp_path_factory.mktemp("gw_shared")
    config = folder / "agentic-config.yaml"
    config.write_text(f"local:\n  url: {fake_server.url}\n  api_key: shared-local-key\n  models: [fake-model]\n")
    db = folder / "shared.db"
    with streamlit_server({"SPACES_OS_DB": str(db), "AGENTIC_CONFIG": str(config), "HF_TOKEN": "",
                           "OPENROUTER_API_KEY": "", "SPACES_OS_OPERATOR_TOKEN": OPERATOR}) as base:
        yield base, Store(str(db))


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory, fake_server, fake_server_b, hub_server):
    """Shared keys for OpenRouter (fake A) and Hugging Face (fake B, whose token is also the Hub token of
    alice on the fake Hub): BYOK callers, and Spaces through the Hub."""
    folder = tmp_path_factory.mktemp("gw_keyed")
    config = folder / "agentic-config.yaml"
    config.write_text(f"openrouter:\n  url: {fake_server.url}\n  api_key: {SHARED}\n  models: [openai/gpt-4o-mini]\n"
                      f"huggingface:\n  url: {fake_server_b.url}\n  token: {SHARED_HF}\n"
                      f"  models: [meta-llama/Llama-3.1-8B-Instruct]\n")
    db = folder / "keyed.db"
    with streamlit_server({"SPACES_OS_DB": str(db), "AGENTIC_CONFIG": str(config), "HF_TOKEN": "",
                           "OPENROUTER_API_KEY": "", "HF_ENDPOINT": hub_server.url,
                           "SPACES_OS_OPERATOR_TOKEN": OPERATOR}) as base:
        base.store = Store(str(db))
        yield base


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_openai_error(response: httpx.Response, status: int, code: str) -> str:
    """The response is an error in OpenAI's shape with this status and code; returns its message."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"} and error["code"] == code, error
    assert "Traceback" not in error["message"]
    return error["message"]


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


def test_usd_per_day_budget(shared_server, fake):
    base, store = shared_server
    fake.default = Reply(cost=0.02)              # the upstream reports each answer's cost, as OpenRouter does
    issued = TokenService(store).create(TokenSpec("usd", ("chat",), usd_per_day=0.03))
    c = client(base, issued.token)
    deadline = time.time() + 5
    while True:      # usage rows are written in the background (visible within 1 s)
        try:
            c.chat.completions.create(model="local/fake-model", messages=[{"role": "user", "content": "x"}])
        except openai.RateLimitError as err:
            assert err.code == "budget_exceeded" and err.body["type"] == "insufficient_quota"
            assert "$0.03 a day is spent" in err.body["message"]
            break
        assert time.time() < deadline, "the daily USD budget was never enforced"
        time.sleep(0.3)
    assert sum(r["cost_usd"] or 0 for r in store.usage_rows()
               if r["session"] == session_hash(issued.grant.identity)) >= 0.03


def test_models_list_only_the_tokens_providers(shared_server):
    base, store = shared_server
    only_demo = TokenService(store).create(TokenSpec("models-demo", ("chat",), providers=("demo",)))
    everyone = TokenService(store).create(TokenSpec("models-all", ("chat",)))
    assert not [m.id for m in client(base, only_demo.token).models.list() if m.id.startswith("local/")]
    assert "local/fake-model" in [m.id for m in client(base, everyone.token).models.list()]


# --------------------------------------------------------------------------- Spaces through the Hub

@pytest.fixture
def alice_hub(fake_hub):
    """The fake Hub where the console's shared HF token and SENTINEL_HF are alice's, with one Space."""
    fake_hub.add_token(SHARED_HF, user="alice")
    fake_hub.add_space(FakeSpace("alice/app", sdk="gradio"))
    return fake_hub


def test_spaces_list_get_create_restart_pause_delete_through_http(keyed_server, alice_hub):
    tokens = TokenService(keyed_server.store)
    write = bearer(tokens.create(TokenSpec("spaces-rw", ("spaces-read", "spaces-write"))).token)

    listed = httpx.get(keyed_server + "/api/spaces", headers=write)
    assert listed.status_code == 200 and "alice/app" in [s["id"] for s in listed.json()["spaces"]]
    state = httpx.get(keyed_server + "/api/spaces/alice/app", headers=write).json()
    assert state["space_id"] == "alice/app" and state["stage"] == "RUNNING"

    created = httpx.post(keyed_server + "/api/spaces", headers=write, json={"name": "new-app", "sdk": "static"})
    assert created.status_code == 201 and created.json()["id"] == "alice/new-app"
    assert alice_hub.space("alice/new-app").private is True                  # private unless told otherwise

    assert httpx.post(keyed_server + "/api/spaces/alice/app/restart", headers=write).status_code == 200
    assert alice_hub.last("POST", "/api/spaces/alice/app/restart").authorization == f"Bearer {SHARED_HF}"
    paused = httpx.post(keyed_server + "/api/spaces/alice/app/pause", headers=write)
    assert paused.status_code == 200 and alice_hub.requests_to("POST", "/api/spaces/alice/app/pause")

    deleted = httpx.delete(keyed_server + "/api/spaces/alice/new-app", headers=write)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": "alice/new-app"}
    assert "alice/new-app" not in alice_hub.spaces
    actions = [(r["space_id"], r["action"], r["outcome"]) for r in keyed_server.store.space_actions()]
    assert ("alice/new-app", "delete", "ok") in actions


def test_spaces_scopes_are_enforced_in_openai_error_shape(keyed_server, alice_hub):
    tokens = TokenService(keyed_server.store)
    read = bearer(tokens.create(TokenSpec("spaces-r", ("spaces-read",))).token)
    chat = bearer(tokens.create(TokenSpec("chat-only", ("chat",))).token)

    assert httpx.get(keyed_server + "/api/spaces/alice/app", headers=read).status_code == 200
    for method, path, body in (("POST", "/api/spaces", {"name": "x"}), ("DELETE", "/api/spaces/alice/app", None),
                               ("POST", "/api/spaces/alice/app/restart", None),
                               ("POST", "/api/spaces/alice/app/pause", None)):
        message = assert_openai_error(httpx.request(method, keyed_server + path, headers=read, json=body),
                                      403, "missing_scope")
        assert "`spaces-write`" in message
    assert_openai_error(httpx.get(keyed_server + "/api/spaces", headers=chat), 403, "missing_scope")
    assert_openai_error(httpx.get(keyed_server + "/api/spaces"), 401, "invalid_api_key")     # no bearer at all
    assert [r.method for r in alice_hub.requests if r.method != "GET"] == []      # nothing changed on the Hub
    assert "alice/app" in alice_hub.spaces


@pytest.mark.parametrize("path", ["/api/spaces/alice/..app", "/api/spaces/-alice/app", "/api/spaces/alice/app.git",
                                  "/api/spaces/alice/" + "a" * 97, "/api/spaces/alice/my%20app", "/api/spaces/alice/app%3F"])
def test_hostile_space_ids_are_refused_before_the_hub(keyed_server, alice_hub, path):
    write = bearer(TokenService(keyed_server.store).create(TokenSpec("ids", ("spaces-read", "spaces-write"))).token)
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/restart"), ("POST", "/pause")):
        message = assert_openai_error(httpx.request(method, keyed_server + path + suffix, headers=write),
                                      400, "invalid_name")
        assert message.startswith("The Space ")          # names the rule the id breaks
    assert alice_hub.requests == []


@pytest.mark.parametrize(("body", "words"), [
    ({"name": "bad name!"}, "letters, digits"), ({"name": "../../etc/passwd"}, "exactly one '/'"),
    ({"name": "-app"}, "start"), ({"name": SENTINEL_HF}, "looks like an access token"), ({}, "`name`"),
    ({"name": "ok-app", "sdk": "php"}, "Unknown SDK"), ({"name": "ok-app", "private": "no"}, "true or false")])
def test_hostile_create_requests_get_a_clear_400(keyed_server, alice_hub, body, words):
    write = bearer(TokenService(keyed_server.store).create(TokenSpec("new", ("spaces-read", "spaces-write"))).token)
    response = httpx.post(keyed_server + "/api/spaces", headers=write, json=body)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]["message"]
    assert not alice_hub.requests_to("POST", "/api/repos/create")


def test_spaces_without_a_hub_token_say_so(shared_server, demo_server):
    base, store = shared_server
    read = bearer(TokenService(store).create(TokenSpec("no-hub", ("spaces-read",))).token)
    for who, url in ((read, base), ({}, demo_server)):
        message = assert_openai_error(httpx.get(url + "/api/spaces", headers=who), 401, "hub_token_missing")
        assert "No Hugging Face token" in message and "`hf_…`" in message


def test_an_hf_bearer_acts_on_the_hub_with_its_own_token_not_the_shared_one(keyed_server, alice_hub):
    listed = httpx.get(keyed_server + "/api/spaces", headers=bearer(SENTINEL_HF))
    assert listed.status_code == 200 and "alice/app" in [s["id"] for s in listed.json()["spaces"]]
    assert httpx.post(keyed_server + "/api/spaces/alice/app/restart", headers=bearer(SENTINEL_HF)).status_code == 200
    sent = {r.authorization for r in alice_hub.requests}
    assert sent == {f"Bearer {SENTINEL_HF}"}
    # An OpenRouter key is no Hub token: it may only chat.
    assert_openai_error(httpx.get(keyed_server + "/api/spaces", headers=bearer(BYOK_OR)), 403, "missing_scope")


# --------------------------------------------------------------------------- build workflows and their owners

def wait_for_workflow(base: str, run_id: str, headers: dict[str, str], timeout: float = 180) -> dict:
    deadline = time.time() + timeout
    while True:
        state = httpx.get(f"{base}/api/workflows/{run_id}", headers=headers).json()
        if state.get("status") not in ("pending", "running"):
            return state
        assert time.time() < deadline, f"the run is still {state.get('status')}: {state}"
        time.sleep(0.5)


def test_workflow_from_an_idea_runs_to_its_end_and_only_its_caller_sees_it(demo_server, fake_hub):
    tokens = TokenService(demo_server.store)
    mine = bearer(tokens.create(TokenSpec("builder", ("spaces-read", "spaces-write"))).token)
    other = bearer(tokens.create(TokenSpec("other", ("spaces-read", "spaces-write"))).token)

    started = httpx.post(demo_server + "/api/workflows", headers=mine, json={"idea": "a landing page for my bakery"})
    assert started.status_code == 202, started.text
    run = started.json()
    assert run["dry_run"] is True                       # no HF token: the files are written, nothing is created
    state = wait_for_workflow(demo_server, run["id"], mine)

    steps = {s["name"]: s["status"] for s in state["steps"]}
    assert state["status"] == "stopped" and steps["create"] == "stopped", state
    assert all(steps[n] == "done" for n in ("understand", "choose", "generate", "validate")), steps
    generated = next(s for s in state["steps"] if s["name"] == "generate")["outputs"]["files"]
    assert set(generated) >= {"index.html", "README.md"}
    build_dir = Path(state["outputs"]["build_dir"])     # beside the console's database, not in the checkout
    assert build_dir.parent == Path(demo_server.store.path).resolve().parent / "builds"
    assert {p.name for p in build_dir.iterdir()} >= {"index.html", "README.md"}

    for who in (other, {}):                              # another token, an anonymous caller: as if absent
        message = assert_openai_error(httpx.get(f"{demo_server}/api/workflows/{run['id']}", headers=who),
                                      404, "not_found")
        assert message == assert_openai_error(httpx.get(f"{demo_server}/api/workflows/nosuchrun", headers=who),
                                              404, "not_found")
    seen = httpx.get(f"{demo_server}/api/workflows/{run['id']}", headers=bearer(OPERATOR))
    assert seen.status_code == 200 and seen.json()["status"] == "stopped"


def test_workflow_input_is_checked(demo_server):
    mine = bearer(TokenService(demo_server.store).create(TokenSpec("wf-in", ("spaces-read", "spaces-write"))).token)
    for body, words in (({"idea": "   "}, "Describe the app"), ({"idea": 3}, "`idea`"),
                        ({"idea": "a page", "sdk": "php"}, "Unknown SDK")):
        message = httpx.post(demo_server + "/api/workflows", headers=mine, json=body).json()["error"]["message"]
        assert words in message
    assert_openai_error(httpx.post(demo_server + "/api/workflows", json={"idea": "a page"}), 403, "missing_scope")


# --------------------------------------------------------------------------- model auto + COMPLEX: a manager task

def test_complex_auto_request_is_a_task_of_the_caller_and_returns_its_answer(shared_server, fake):
    assert classify(REPORT).label == Label.COMPLEX
    base, store = shared_server
    tokens = TokenService(store)
    issued = tokens.create(TokenSpec("complex", ("chat",)))
    other = tokens.create(TokenSpec("complex-other", ("chat",)))

    raw = client(base, issued.token).chat.completions.with_raw_response.create(
        model="auto", max_tokens=900, messages=[{"role": "user", "content": REPORT}])
    task_id = raw.headers["x-spaces-os-task"]
    reply = raw.parse()
    assert reply.choices[0].message.content == model_answer([{"role": "user", "content": REPORT}])
    assert reply.model == "local/fake-model" and reply.usage.completion_tokens > 0

    row = store.get_task(task_id)                           # in the task queue, under the caller's identity
    assert row["label"] == "COMPLEX" and row["status"] == "done"
    assert row["session"] == session_hash(issued.grant.identity)
    assert fake.chat_requests[-1].body["max_tokens"] == 900 and fake.chat_requests[-1].body["stream"] is True
    assert {r["task_id"] for r in store.usage_rows() if r["request_id"]} >= {task_id}

    mine = httpx.get(f"{base}/api/tasks/{task_id}", headers=bearer(issued.token))
    assert mine.status_code == 200 and mine.json()["result"] == reply.choices[0].message.content
    assert "session" not in mine.json()
    message = assert_openai_error(httpx.get(f"{base}/api/tasks/{task_id}", headers=bearer(other.token)),
                                  404, "not_found")
    assert message == httpx.get(f"{base}/api/tasks/nosuchtask", headers=bearer(other.token)).json()["error"]["message"]
    assert httpx.get(f"{base}/api/tasks/{task_id}", headers=bearer(OPERATOR)).json()["status"] == "done"


def test_a_caller_with_as_many_unfinished_tasks_as_allowed_gets_429_too_many_tasks(shared_server, fake):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("busy", ("chat",)))
    for n in range(5):                                      # the default limit: 5 unfinished tasks a session
        store.create_task(prompt=f"earlier {n}", session=session_hash(issued.grant.identity), status="paused",
                          label="COMPLEX")
    r = httpx.post(base + "/v1/chat/completions", headers=bearer(issued.token), timeout=30,
                   json={"model": "auto", "messages": [{"role": "user", "content": REPORT}]})
    message = assert_openai_error(r, 429, "too_many_tasks")
    assert "already has 5 unfinished tasks" in message and r.headers["retry-after"] == "10"
    assert not fake.chat_requests                           # refused before any provider call


def test_complex_auto_stream_relays_the_task_as_it_writes(shared_server, fake):
    base, store = shared_server
    fake.default = Reply(chunk_delay=0.03)                # ~2 s of answer: several progress saves
    issued = TokenService(store).create(TokenSpec("complex-stream", ("chat",)))
    raw = client(base, issued.token).chat.completions.with_raw_response.create(
        model="auto", stream=True, messages=[{"role": "user", "content": REPORT}])
    task_id = raw.headers["x-spaces-os-task"]
    chunks = list(raw.parse())
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(deltas) == model_answer([{"role": "user", "content": REPORT}])
    assert len(deltas) > 1                                 # relayed in parts, not one block at the end
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert store.get_task(task_id)["session"] == session_hash(issued.grant.identity)


def test_a_failed_complex_task_is_an_error_with_its_status_and_task_id(shared_server, fake):
    base, store = shared_server
    fake.default = Status(402, "no credit left")
    issued = TokenService(store).create(TokenSpec("complex-402", ("chat",)))
    r = httpx.post(base + "/v1/chat/completions", headers=bearer(issued.token),
                   json={"model": "auto", "messages": [{"role": "user", "content": REPORT}]}, timeout=60)
    assert_openai_error(r, 402, "payment")
    assert store.get_task(r.headers["x-spaces-os-task"])["status"] == "failed"


def test_quick_auto_request_is_answered_directly(shared_server, fake):
    base, store = shared_server
    issued = TokenService(store).create(TokenSpec("quick", ("chat",)))
    raw = client(base, issued.token).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "What's 2+2?"}])
    assert "x-spaces-os-task" not in raw.headers and raw.parse().choices[0].message.content


# --------------------------------------------------------------------------- BYOK bearers

def authorizations(server) -> list[str | None]:
    return [r.headers.get("authorization") for r in server.chat_requests]


def test_openrouter_bearer_reaches_only_openrouter_as_byok(keyed_server, fake, fake_b):
    for prompt in ("What's 2+2?", REPORT):                # answered directly, and as a manager task
        reply = client(keyed_server, BYOK_OR).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": prompt}])
        assert reply.model.startswith("openrouter/")
        assert reply.model_extra["spaces_os"]["key_source"] == "byok"
    assert authorizations(fake) == [f"Bearer {BYOK_OR}"] * 2 and authorizations(fake_b) == []
    with pytest.raises(openai.PermissionDeniedError):     # the key may not be spent on another provider
        client(keyed_server, BYOK_OR).chat.completions.create(
            model="huggingface/meta-llama/Llama-3.1-8B-Instruct", messages=[{"role": "user", "content": "x"}])
    assert authorizations(fake_b) == []


def test_hf_bearer_reaches_only_huggingface_as_byok(keyed_server, fake, fake_b):
    reply = client(keyed_server, SENTINEL_HF).chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "What's 2+2?"}])
    assert reply.model.startswith("huggingface/") and reply.model_extra["spaces_os"]["key_source"] == "byok"
    assert authorizations(fake_b) == [f"Bearer {SENTINEL_HF}"] and authorizations(fake) == []


@pytest.mark.parametrize("prompt", ["What's 2+2?", REPORT])
def test_a_refused_byok_key_never_falls_back_to_the_shared_key(keyed_server, fake, fake_b, prompt):
    fake.default = Status(401, "invalid key")
    with pytest.raises(openai.AuthenticationError):
        client(keyed_server, BYOK_OR).chat.completions.create(
            model="auto", messages=[{"role": "user", "content": prompt}], timeout=60)
    assert authorizations(fake) == [f"Bearer {BYOK_OR}"] and authorizations(fake_b) == []


def test_byok_keys_are_in_no_usage_row_and_no_log(keyed_server, fake, fake_b):
    for key in (BYOK_OR, SENTINEL_HF):
        client(keyed_server, key).chat.completions.create(model="auto",
                                                          messages=[{"role": "user", "content": "hello"}])
    fake.default = Status(401, f"invalid key {BYOK_OR}")    # an upstream that echoes the key back
    with pytest.raises(openai.AuthenticationError) as err:
        client(keyed_server, BYOK_OR).chat.completions.create(model="auto",
                                                              messages=[{"role": "user", "content": "x"}])
    assert BYOK_OR not in str(err.value.body)
    deadline = time.time() + 5        # the console writes its usage rows in the background (within 1 s)
    while {r["provider"] for r in keyed_server.store.usage_rows() if r["key_source"] == "byok"} < \
            {"openrouter", "huggingface"}:
        assert time.time() < deadline, "the BYOK requests left no usage rows"
        time.sleep(0.2)
    db_path = Path(keyed_server.store.path)
    for path in (db_path, *db_path.parent.glob(db_path.name + "-*"), keyed_server.log):
        data = path.read_bytes()
        assert BYOK_OR.encode() not in data and SENTINEL_HF.encode() not in data, path


def test_api_paths_are_served_ahead_of_streamlits_middleware(demo_server):
    """The API answers before Streamlit's session cookie and gzip layers (fast_path.py): no cookie, no
    compression (an SSE stream must not be buffered by gzip), and an unknown API path is a JSON 404 in
    OpenAI's shape, not the console's HTML page. Other paths are still Streamlit's."""
    spec = httpx.get(demo_server + "/api/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert spec.status_code == 200 and len(spec.content) > 1000
    assert "content-encoding" not in spec.headers and "set-cookie" not in spec.headers
    missing = httpx.get(demo_server + "/api/no-such-route")
    assert assert_openai_error(missing, 404, "not_found").startswith("No API route /api/no-such-route")
    assert assert_openai_error(httpx.get(demo_server + "/v1/nothing"), 404, "not_found")
    page = httpx.get(demo_server + "/", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert httpx.get(demo_server + "/_stcore/health").text == "ok"
