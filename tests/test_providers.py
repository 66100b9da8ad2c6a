"""Provider modules against the local fake server: OpenRouter's extras, Hugging Face through its
router's OpenAI-compatible API, OpenAI-compatible endpoints, and the demo provider."""

from __future__ import annotations

import pytest

from core.errors import AllProvidersFailed, ErrorKind, ProviderError
from core.llm.config import load_config
from core.llm.providers import ChatRequest, build_provider
from core.llm.providers.demo import demo_answer
from core.llm.router import Router
from tests.conftest import SENTINEL_HF
from tests.fake_openai import Reply, Status, model_answer

MSG = [{"role": "user", "content": "hello"}]


def provider(cfg: dict, name: str):
    return build_provider(load_config(cfg, env={}).provider(name))


def test_openrouter_sends_attribution_headers_routing_fields_and_reads_cost(fake, db_path):
    cfg = {"openrouter": {"api_key": "sk-or-test", "url": fake.url,
                          "routing": {"provider": {"sort": "price"}}}}
    router = Router.from_config(cfg, db=db_path)
    fake.queue(Reply("routed", cost=0.00002, extra={"provider": "Together"}))
    result = router.chat(MSG, model="openai/gpt-4o-mini", models=["anthropic/claude-3.5-haiku"])
    request = fake.chat_requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["x-openrouter-title"] == "Spaces OS"
    assert "http-referer" not in request.headers      # no URL of its own: none, never one shared by every install
    assert request.body["models"] == ["anthropic/claude-3.5-haiku"]
    assert request.body["provider"] == {"sort": "price"}
    assert result.usage.cost_usd == 0.00002 and result.upstream == "Together"


def test_openrouter_default_url_is_the_real_api_base():
    p = provider({"openrouter": {"api_key": "k"}}, "openrouter")
    assert p.chat_url == "https://openrouter.ai/api/v1/chat/completions"


def test_openrouter_model_prices_are_converted_to_per_million(fake):
    fake.models = [{"id": "openai/gpt-4o-mini", "pricing": {"prompt": "0.00000015", "completion": "0.0000006"}}]
    p = provider({"openrouter": {"api_key": "k", "url": fake.url}}, "openrouter")
    models = p.list_models("k")
    assert models[0].id == "openai/gpt-4o-mini"
    assert models[0].price_in == pytest.approx(0.15) and models[0].price_out == pytest.approx(0.6)


def test_openai_compatible_skips_sse_comments_and_streams(fake):
    p = provider({"local": {"url": fake.url, "api_key": "k"}}, "local")
    items = list(p.stream(ChatRequest(MSG, "m"), "k", 5))
    assert "".join(i for i in items if isinstance(i, str)) == model_answer(MSG)
    assert items[-1].tokens_in == 7


def test_redirects_are_not_followed_so_keys_cannot_be_forwarded(fake):
    p = provider({"local": {"url": fake.url, "api_key": "k"}}, "local")
    fake.queue(Status(307, "moved"))
    with pytest.raises(ProviderError) as info:
        p.chat(ChatRequest(MSG, "m"), "k", 5)
    assert info.value.kind == ErrorKind.BAD_REQUEST
    assert len(fake.requests) == 1


def test_huggingface_provider_sends_the_explicit_key_to_the_router(fake, db_path):
    cfg = {"huggingface": {"url": fake.url, "models": ["meta-llama/Llama-3.1-8B-Instruct:fastest"]}}
    router = Router.from_config(cfg, db=db_path)
    fake.queue(Reply("from hf"))
    result = router.chat(MSG, keys={"huggingface": SENTINEL_HF})
    assert result.text == "from hf" and result.key_source == "byok"
    request = fake.chat_requests[0]
    assert request.headers["authorization"] == f"Bearer {SENTINEL_HF}"
    assert request.body["model"] == "meta-llama/Llama-3.1-8B-Instruct:fastest"   # policy suffix passed through


def test_huggingface_stream_and_rate_limit_through_the_router_api(fake, db_path):
    cfg = {"huggingface": {"url": fake.url, "token": "hf_sharedtoken123456"}}
    router = Router.from_config(cfg, db=db_path)
    fake.queue(Status(429, "busy", retry_after="60"), Reply())
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG)
    assert info.value.attempts[0].outcome == "rate_limited" and info.value.attempts[0].retry_after == 60
    with pytest.raises(AllProvidersFailed) as info:     # the shared key is held for every session...
        router.chat(MSG)
    assert info.value.attempts[0].outcome == "cooldown_skip"
    stream = router.stream(MSG, keys={"huggingface": SENTINEL_HF})   # ...but a session's own key is not
    assert "".join(stream) == model_answer(MSG)
    assert (stream.result.provider, stream.result.key_source) == ("huggingface", "byok")


def test_huggingface_refuses_a_non_hf_key_without_sending_it(fake):
    p = provider({"huggingface": {"url": fake.url}}, "huggingface")
    with pytest.raises(ProviderError) as info:
        p.chat(ChatRequest(MSG, "m"), "sk-or-not-hf", 5)
    assert info.value.kind == ErrorKind.AUTH and "hf_" in str(info.value)
    assert fake.requests == []


def test_machine_hf_token_never_reaches_a_custom_endpoint(fake, db_path, monkeypatch):
    """A keyless endpoint gets no Authorization header: the machine's HF_TOKEN is never sent on its own."""
    monkeypatch.setenv("HF_TOKEN", SENTINEL_HF)
    router = Router.from_config({"custom": {"url": fake.url, "keyless": True}}, db=db_path)
    router.chat(MSG)
    assert "authorization" not in fake.chat_requests[0].headers
    assert all(SENTINEL_HF not in str(r.headers) for r in fake.requests)


def test_health_check_reports_latency_and_error_kind(fake):
    p = provider({"local": {"url": fake.url, "api_key": "k"}}, "local")
    fake.queue(Status(401, "nope"))
    health = p.health("k")
    assert not health.ok and health.kind == "auth" and health.latency_ms > 0
    assert p.health("k").ok


def test_demo_is_deterministic_and_continues_a_partial_answer_exactly():
    p = provider({"demo": {"pace_ms": 0}}, "demo")
    report = [{"role": "user", "content": "Write a detailed report on GPU pricing"}]
    full = demo_answer(report)
    assert full == demo_answer(report) and len(full.split()) > 150
    partial = full[:137]
    rest = "".join(i for i in p.stream(ChatRequest(report + [{"role": "assistant", "content": partial}], None), None, 5)
                   if isinstance(i, str))
    assert partial + rest == full
    assert "4" in p.chat(ChatRequest([{"role": "user", "content": "what is 2+2"}], None), None, 1).text


def test_cookies_a_provider_sets_never_ride_on_another_request(fake):
    """The pool is shared by every session: a cookie set in one visitor's answer must not be sent
    with the next visitor's request (httpx.Client's cookie jar would do that)."""
    p = provider({"local": {"url": fake.url}}, "local")
    fake.queue(Reply("first", headers={"Set-Cookie": "session=visitor-a; Path=/"}))
    assert p.chat(ChatRequest(MSG, "m"), "key-a", 5).text == "first"
    p.chat(ChatRequest(MSG, "m"), "key-b", 5)
    p.list_models("key-b")
    assert [r.headers.get("cookie") for r in fake.requests] == [None, None, None]
    assert [r.headers["authorization"] for r in fake.requests] == ["Bearer key-a", "Bearer key-b", "Bearer key-b"]


def test_requests_carry_the_headers_gateways_expect(fake):
    p = provider({"local": {"url": fake.url}}, "local")
    p.chat(ChatRequest(MSG, "m"), "k", 5)
    headers = fake.requests[0].headers
    assert headers["user-agent"] == "spaces-os" and headers["authorization"] == "Bearer k"
    assert headers["content-type"] == "application/json" and headers["host"] == f"127.0.0.1:{fake.port}"
    assert "accept-encoding" not in headers      # a compressed SSE stream may be held back by a proxy


def test_an_http_proxy_from_the_environment_is_used(fake, monkeypatch):
    """HTTP_PROXY points at the fake server: the request arrives there in absolute form, for the
    provider's own host, with the provider's key (a proxy sees a plain-http request in full)."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", fake.url.removesuffix("/v1"))
    p = provider({"local": {"url": "http://llm.example.invalid/v1"}}, "local")
    assert p.chat(ChatRequest(MSG, "m"), "k", 5).text == model_answer(MSG)
    assert fake.requests[0].path == "http://llm.example.invalid/v1/chat/completions"
    assert fake.requests[0].headers["host"] == "llm.example.invalid"


def test_no_proxy_exempts_a_host(fake, monkeypatch):
    for name in ("http_proxy", "ALL_PROXY", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")       # nothing listens on the discard port
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    p = provider({"local": {"url": fake.url}}, "local")
    assert p.chat(ChatRequest(MSG, "m"), "k", 5).text == model_answer(MSG)
    assert fake.requests[0].path == "/v1/chat/completions"


def test_an_unusable_proxy_in_the_environment_is_a_clear_error_without_its_password(fake, monkeypatch, db_path):
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "ftp://user:proxy-secret@127.0.0.1:9")
    router = Router.from_config({"local": {"url": fake.url, "api_key": "k"}}, db=db_path)
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG)
    message = str(info.value)
    assert "ftp:// proxy set in the environment cannot be used" in message and "NO_PROXY" in message
    assert "proxy-secret" not in message and fake.requests == []
