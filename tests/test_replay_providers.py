"""Public recorded traffic of the real HF router, OpenRouter and OpenAI-format streams, replayed on
127.0.0.1 to the real provider code through the router (issue 14, items 1-10).

Fixtures are the recordings' own bytes (tests/replay/fixtures, MANIFEST.json names each source);
`Recording(...)` inline is used only for a shape no public recording holds, and says so.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from core.errors import HEALTH_FAILURES, AllProvidersFailed, ErrorKind, StreamInterrupted
from core.llm.config import load_config
from core.llm.providers import build_provider
from core.llm.router import Router
from core.store import Store
from tests.conftest import SENTINEL_HF
from tests.replay.server import FIXTURES, Recording, ReplayServer, manifest, recorded

MSG = [{"role": "user", "content": "hello"}]
HF_MODEL = "meta-llama/Llama-3.3-70B-Instruct"
OR_KEY = "sk-or-v1-replaytest0123456789"
NO_RETRY = {"max_retries": 0}


@pytest.fixture
def replay():
    server = ReplayServer().start()
    yield server
    server.stop()


@pytest.fixture
def replay_b():
    server = ReplayServer().start()
    yield server
    server.stop()


def router_for(cfg: dict, db_path: str, env: dict | None = None) -> Router:
    return Router(load_config(cfg, env=env or {}), Store(db_path))


def usage_rows(router: Router, request_id: str) -> list[dict]:
    router.store.flush()
    cursor = router.store.db().conn.execute(
        "SELECT * FROM usage WHERE request_id = ? AND outcome != 'started' ORDER BY attempt", (request_id,))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def sse(*chunks: dict, done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(c)}\n\n" for c in chunks] + (["data: [DONE]\n\n"] if done else [])
    return "".join(lines).encode()


STREAM = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


# ------------------------------------------------------------------ the fixtures themselves

def test_fixtures_are_the_recorded_bytes():
    entries = manifest()
    on_disk = {p.name for p in FIXTURES.iterdir() if p.name not in ("MANIFEST.json", "README.md")}
    assert on_disk == set(entries)
    for name, entry in entries.items():
        data = (FIXTURES / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        if "git_blob" in entry:      # the same blob id git gives the file at that commit of that repo
            assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == entry["git_blob"], name
        assert entry["source_repo"] and len(entry["commit"]) == 40 and entry["path"]
        assert len(data) < 64 * 1024


# ------------------------------------------------------------------ successes

def test_hf_router_answer_replayed_gives_text_tokens_and_price_table_cost(replay, db_path):
    replay.play(recorded("hfh_cerebras_answer.yaml"))
    router = router_for({"huggingface": {"url": replay.url, "models": [HF_MODEL]}}, db_path)
    result = router.chat(MSG, keys={"huggingface": SENTINEL_HF})
    assert result.text.startswith("**Deep Learning: An Overview**")
    assert (result.usage.tokens_in, result.usage.tokens_out) == (46, 637)
    assert result.usage.cost_usd == pytest.approx((46 + 637) * 0.60 / 1e6)
    assert replay.requests[0].path == "/v1/chat/completions"
    assert replay.requests[0].headers["authorization"] == f"Bearer {SENTINEL_HF}"


def test_pydantic_ai_hf_answer_replayed(replay, db_path):
    replay.play(recorded("pai_hf_simple_completion.yaml"))
    router = router_for({"huggingface": {"url": replay.url, "models": ["Qwen/Qwen2.5-72B-Instruct"]}}, db_path)
    result = router.chat(MSG, keys={"huggingface": SENTINEL_HF})
    assert result.text and result.usage.tokens_in and result.usage.tokens_out


def test_hf_stream_sends_include_usage_and_fills_tokens_from_the_final_usage_chunk(replay, db_path):
    """Item 5: both reference clients send stream_options.include_usage; the last chunk carries usage."""
    replay.play(recorded("hfh_together_stream.yaml"))
    router = router_for({"huggingface": {"url": replay.url, "models": [HF_MODEL]}}, db_path)
    stream = router.stream(MSG, keys={"huggingface": SENTINEL_HF})
    text = "".join(stream)
    assert text.strip().startswith("Deep learning") or len(text) > 40
    assert replay.requests[0].body["stream"] is True
    assert replay.requests[0].body["stream_options"] == {"include_usage": True}
    result = stream.result
    assert (result.usage.tokens_in, result.usage.tokens_out) == (26, 20)
    assert result.usage.cost_usd == pytest.approx(46 * 0.60 / 1e6)
    assert result.finish_reason == "length"


def test_hf_js_sambanova_stream_without_usage_gives_its_text(replay, db_path):
    replay.play(recorded("hfjs_sambanova_stream.sse"))
    router = router_for({"huggingface": {"url": replay.url, "models": [HF_MODEL]}}, db_path)
    stream = router.stream(MSG, keys={"huggingface": SENTINEL_HF})
    assert "".join(stream) == "2"
    assert stream.result.usage.tokens_in is None and stream.result.finish_reason == "stop"


def test_hf_stream_keeps_tool_calls(replay, db_path):
    """Item 2: a streamed tool call (argument fragments) survives on the Hugging Face path, which shares
    the OpenAI-compatible SSE parser."""
    replay.play(recorded("pai_openai_stream_tool_call.yaml"))
    router = router_for({"huggingface": {"url": replay.url, "models": [HF_MODEL]}}, db_path)
    tools = [{"type": "function", "function": {"name": "get_capital", "parameters": {"type": "object"}}}]
    stream = router.stream(MSG, keys={"huggingface": SENTINEL_HF}, tools=tools)
    assert "".join(stream) == ""
    calls = stream.result.tool_calls
    assert calls and calls[0]["function"]["name"] == "get_capital"
    assert json.loads(calls[0]["function"]["arguments"]) == {"country": "UK"}
    assert calls[0]["id"] == "call_ZR5UUuTt3pf61kjwAJIYdVMj" and stream.result.finish_reason == "tool_calls"
    assert replay.requests[0].body["tools"] == tools


# ------------------------------------------------------------------ recorded errors

def test_hf_401_is_auth_and_fails_over(replay, replay_b, db_path):
    replay.play(recorded("hfh_router_401.yaml"))
    replay_b.play(recorded("hfh_cerebras_answer.yaml"))
    cfg = {"huggingface": {"url": replay.url, "models": [HF_MODEL]}, "backup": {"url": replay_b.url, "api_key": "k"}}
    result = router_for(cfg, db_path).chat(MSG, keys={"huggingface": SENTINEL_HF})
    assert result.provider == "backup"
    assert result.attempts[0].outcome == "auth" and "Invalid username or password" in result.attempts[0].error


def test_hf_template_error_422_is_a_rejected_request_in_plain_words(replay, db_path):
    replay.play(recorded("hfjs_template_error_422.json"))
    router = router_for({"huggingface": {"url": replay.url, "models": [HF_MODEL]}}, db_path)
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG, keys={"huggingface": SENTINEL_HF})
    attempt = info.value.attempts[0]
    assert attempt.outcome == "bad_request" and "Template error: template not found" in attempt.error
    assert "{" not in attempt.error


def test_openrouter_429_upstream_reason_reaches_the_message_and_fails_over(replay, replay_b, db_path):
    """Item 6: error.metadata.raw (the upstream's reason) is in the message; the failing key was the
    session's own, so the advice does not say "add your own key"."""
    replay.play(recorded("pai_openrouter_429_raw.yaml"))
    replay_b.play(recorded("pai_openrouter_429_raw.yaml"))
    cfg = {"openrouter": {"url": replay.url, "models": ["google/gemini-2.0-flash-exp:free"]},
           "backup": {"url": replay_b.url}, "router": NO_RETRY}
    with pytest.raises(AllProvidersFailed) as info:
        router_for(cfg, db_path).chat(MSG, keys={"openrouter": OR_KEY, "backup": "own-backup-key"})
    first = info.value.attempts[0]
    assert (first.provider, first.outcome, first.key_source) == ("openrouter", "rate_limited", "byok")
    assert "Provider returned error" in first.error
    assert "google/gemini-2.0-flash-exp:free is temporarily rate-limited upstream" in first.error
    assert "Google" in first.error
    assert [a.provider for a in info.value.attempts] == ["openrouter", "backup"]
    advice = str(info.value).split("What to do:")[1]
    assert "add your own key" not in advice and "the limit is on your own key" in advice


def test_shared_key_429_still_suggests_adding_your_own_key(replay, db_path):
    replay.play(recorded("pai_openrouter_429_raw.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY, "models": ["google/gemini-2.0-flash-exp:free"]},
           "router": NO_RETRY}
    with pytest.raises(AllProvidersFailed) as info:
        router_for(cfg, db_path).chat(MSG)
    assert "add your own key" in str(info.value).split("What to do:")[1]


def test_openrouter_403_guardrail_is_blocked_not_auth(replay, replay_b, db_path):
    """Item 3: OpenRouter's 403 is a guardrail, moderation or permissions block; the words say so."""
    replay.play(recorded("ordocs_guardrail_403.json"))
    replay_b.play(recorded("ordocs_guardrail_403.json"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY}, "backup": {"url": replay_b.url, "api_key": "k"}}
    with pytest.raises(AllProvidersFailed) as info:
        router_for(cfg, db_path).chat(MSG)
    first, second = info.value.attempts
    assert first.outcome == "blocked" and "prompt injection" in first.error
    assert second.outcome == "auth"               # a 403 from any other endpoint is still a key problem
    message = str(info.value)
    assert "blocked by a guardrail, moderation or permissions" in message
    assert "guardrails" in message.split("What to do:")[1]


def test_openrouter_typed_429_body_and_capacity_retry_after(replay, db_path, clock):
    replay.play(recorded("ordocs_capacity_429.json"), recorded("ordocs_provider_429.json"),
                recorded("hfh_cerebras_answer.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY}, "router": {"retry_after_cap": 60}}
    router = Router(load_config(cfg, env={}), Store(db_path), clock=clock, sleep=clock.sleep)
    result = router.chat(MSG, model="openai/gpt-4o-mini")
    capacity, typed, ok = result.attempts
    assert capacity.outcome == "rate_limited" and capacity.retry_after == 40
    assert "are at capacity" in capacity.error
    assert typed.outcome == "rate_limited" and ok.outcome == "ok"


def test_openrouter_stream_error_chunk_keeps_its_code_usage_and_health(replay, replay_b, db_path):
    """Item 4: the recorded 200 stream ends in `{"error": {"code": 400, "message": "Token limit reached"}}`
    with usage: a rejected request (not a broken provider), its tokens and cost recorded, failing over."""
    replay.play(recorded("pai_openrouter_stream_error.yaml"))
    replay_b.play(recorded("hfh_together_stream.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY}, "backup": {"url": replay_b.url, "api_key": "k"}}
    router = router_for(cfg, db_path)
    stream = router.stream(MSG, model="minimax/minimax-m2:free")
    assert "".join(stream)
    failed = stream.attempts[0]
    assert failed.outcome == "bad_request" and failed.http_status == 400
    assert "Token limit reached" in failed.error
    assert (failed.tokens_in, failed.tokens_out, failed.cost_usd) == (43, 10, 0)
    rows = usage_rows(router, stream.request_id)
    assert (rows[0]["outcome"], rows[0]["tokens_in"], rows[0]["tokens_out"], rows[0]["cost_usd"]) == \
        ("bad_request", 43, 10, 0)
    assert router.breakers.snapshot("openrouter").get("failures", 0) == 0
    assert ErrorKind.BAD_REQUEST not in HEALTH_FAILURES


def test_openrouter_mid_stream_429_chunk_is_retried_with_retry_after(replay, db_path, clock):
    """Item 4: the documented mid-stream error chunk (429, finish_reason "error") keeps its meaning."""
    midstream = recorded("ordocs_midstream_429.sse")
    midstream.headers["retry-after"] = "3"        # errors-and-debugging: 429s may carry Retry-After
    replay.play(midstream, recorded("hfh_together_stream.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY}}
    router = Router(load_config(cfg, env={}), Store(db_path), clock=clock, sleep=clock.sleep)
    stream = router.stream(MSG, model="openai/gpt-4o")
    assert "".join(stream)
    limited, ok = stream.attempts
    assert limited.outcome == "rate_limited" and limited.retry_after == 3 and "Rate limit exceeded" in limited.error
    assert ok.outcome == "ok" and clock.sleeps == [pytest.approx(3, abs=0.01)]


# ------------------------------------------------------------------ shapes no public recording holds

def test_a_200_answer_with_finish_reason_error_fails_over(replay, replay_b, db_path):
    """Item 1 (inline: OpenRouter's documented non-streaming shape, a 200 whose choice ended in error)."""
    replay.play(Recording(200, json.dumps({
        "id": "gen-1", "model": "openai/gpt-4o", "provider": "OpenAI",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "error"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 0, "cost": 0.00001}}).encode(), JSON))
    replay_b.play(recorded("hfh_cerebras_answer.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY}, "backup": {"url": replay_b.url, "api_key": "k"}}
    result = router_for(cfg, db_path).chat(MSG, model="openai/gpt-4o")
    assert result.provider == "backup"
    failed = result.attempts[0]
    assert failed.outcome != "ok" and failed.cost_usd == 0.00001 and failed.tokens_in == 12


def test_a_200_answer_with_a_choice_error_fails_over_with_its_kind(replay, replay_b, db_path):
    """Item 1 (inline): `choices[0].error` carries the code."""
    replay.play(Recording(200, json.dumps({
        "id": "gen-2", "model": "openai/gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "partial"}, "finish_reason": "error",
                     "error": {"code": 502, "message": "Upstream provider crashed"}}]}).encode(), JSON))
    replay_b.play(recorded("hfh_cerebras_answer.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY}, "backup": {"url": replay_b.url, "api_key": "k"},
           "router": NO_RETRY}
    result = router_for(cfg, db_path).chat(MSG, model="openai/gpt-4o")
    assert result.provider == "backup"
    assert result.attempts[0].outcome == "unavailable" and "Upstream provider crashed" in result.attempts[0].error


def test_a_stream_chunk_with_finish_reason_error_is_a_failure_not_a_success(replay, replay_b, db_path):
    """Item 1 (inline): a stream whose only choice ends with finish_reason "error" and no error object."""
    replay.play(Recording(200, sse({"id": "g", "model": "m", "choices": [
        {"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}), STREAM))
    replay_b.play(recorded("hfh_together_stream.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY}, "backup": {"url": replay_b.url, "api_key": "k"}}
    stream = router_for(cfg, db_path).stream(MSG, model="openai/gpt-4o")
    assert "".join(stream)
    assert stream.result.provider == "backup" and stream.attempts[0].outcome == "stream_error"


def test_error_after_text_keeps_the_partial_answer_and_says_so_only_then(replay, db_path):
    """Item 4: "the partial … is kept" only when text was kept; a failure before any text never says it."""
    replay.play(Recording(200, sse(
        {"id": "g", "model": "m", "choices": [{"index": 0, "delta": {"content": "Hello"}}]},
        {"id": "g", "model": "m", "error": {"code": 400, "message": "Token limit reached"},
         "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
         "usage": {"prompt_tokens": 5, "completion_tokens": 9, "cost": 0.0002}}), STREAM),
        Recording(200, sse({"id": "g", "model": "m", "error": {"code": 502, "message": "Upstream died"},
                            "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}),
                  STREAM))
    router = router_for({"openrouter": {"url": replay.url, "api_key": OR_KEY}, "router": NO_RETRY}, db_path)
    stream = router.stream(MSG, model="openai/gpt-4o")
    with pytest.raises(StreamInterrupted) as kept:
        "".join(stream)
    assert kept.value.partial_text == "Hello" and "kept" in str(kept.value)
    attempt = kept.value.attempts[-1]
    assert attempt.outcome == "bad_request" and (attempt.tokens_out, attempt.cost_usd) == (9, 0.0002)
    assert router.breakers.snapshot("openrouter").get("failures", 0) == 0
    with pytest.raises(AllProvidersFailed) as nothing:
        "".join(router.stream(MSG, model="openai/gpt-4o"))
    assert "kept" not in str(nothing.value)


def test_an_in_stream_hf_error_shows_plain_words_never_a_dict(replay, db_path):
    """Item 9 (inline: an error chunk whose message is itself an object, and one with only `detail`)."""
    replay.play(
        Recording(200, sse({"error": {"message": {"error": "Model is overloaded", "error_type": "overloaded"}}},
                           done=False), STREAM),
        Recording(200, sse({"object": "chat.completion.chunk", "error": {"detail": [{"msg": "Input too long"}]}},
                           done=False), STREAM))
    router = router_for({"huggingface": {"url": replay.url, "models": [HF_MODEL]}, "router": NO_RETRY}, db_path)
    for expected in ("Model is overloaded", "Input too long"):
        with pytest.raises(AllProvidersFailed) as info:
            "".join(router.stream(MSG, keys={"huggingface": SENTINEL_HF}))
        error = info.value.attempts[0].error
        assert expected in error and "{" not in error and "None" not in error


def test_tgi_error_chunk_in_a_hf_stream_uses_its_error_type(replay, db_path):
    replay.play(Recording(200, sse({"error": "Input validation error: too many tokens", "error_type": "validation"},
                                   done=False), STREAM))
    router = router_for({"huggingface": {"url": replay.url, "models": [HF_MODEL]}}, db_path)
    with pytest.raises(AllProvidersFailed) as info:
        "".join(router.stream(MSG, keys={"huggingface": SENTINEL_HF}))
    assert info.value.attempts[0].outcome == "bad_request"
    assert "Input validation error" in info.value.attempts[0].error


def test_a_provider_without_models_never_sends_model_null_and_its_health_check_works(replay, db_path):
    """Item 7: no `models` means the endpoint's default model: the field is left out."""
    replay.play(recorded("hfh_cerebras_answer.yaml"), recorded("hfh_cerebras_answer.yaml"))
    cfg = load_config({"local": {"url": replay.url, "api_key": "k"}}, env={})
    provider = build_provider(cfg.provider("local"))
    assert provider.health("k").ok
    Router(cfg, Store(db_path)).chat(MSG)
    for seen in replay.requests:
        assert "model" not in seen.body


def test_openrouter_routing_object_goes_in_provider_routing_not_the_provider_argument(replay, db_path):
    """Item 8: OpenRouter's `provider` object and the router's `provider` pin no longer collide."""
    replay.play(recorded("hfh_cerebras_answer.yaml"), recorded("hfh_cerebras_answer.yaml"))
    router = router_for({"openrouter": {"url": replay.url, "api_key": OR_KEY}}, db_path)
    routing = {"order": ["together"], "allow_fallbacks": False}
    router.chat(MSG, provider="openrouter", provider_routing=routing)
    router.chat(MSG, extra_body={"provider": {"sort": "price"}})
    assert replay.requests[0].body["provider"] == routing
    assert replay.requests[1].body["provider"] == {"sort": "price"}
    with pytest.raises(TypeError, match="provider_routing"):
        router.chat(MSG, provider={"sort": "price"})


@pytest.mark.parametrize(("env", "expected"), [
    ({"SPACE_HOST": "alice-console.hf.space", "SPACE_ID": "alice/console"}, "https://alice-console.hf.space"),
    ({"SPACE_ID": "alice/console"}, "https://huggingface.co/spaces/alice/console"),
    ({}, None),
])
def test_openrouter_referer_is_this_installs_own_url(replay, db_path, env, expected):
    """Item 10: the Space's URL when hosted, else none: never one URL shared by every install."""
    replay.play(recorded("hfh_cerebras_answer.yaml"))
    router_for({"openrouter": {"url": replay.url, "api_key": OR_KEY}}, db_path, env=env).chat(MSG)
    assert replay.requests[0].headers.get("http-referer") == expected
    assert replay.requests[0].headers["x-openrouter-title"] == "Spaces OS"


def test_a_configured_referer_wins_and_must_be_a_url(replay, db_path):
    replay.play(recorded("hfh_cerebras_answer.yaml"))
    cfg = {"openrouter": {"url": replay.url, "api_key": OR_KEY, "referer": "https://console.example.org"}}
    router_for(cfg, db_path, env={"SPACE_HOST": "alice-console.hf.space"}).chat(MSG)
    assert replay.requests[0].headers["http-referer"] == "https://console.example.org"
    with pytest.raises(Exception, match="referer"):
        load_config({"openrouter": {"referer": "not a url"}}, env={})
