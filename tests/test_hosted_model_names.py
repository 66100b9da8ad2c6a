"""Hosted safety, item 1: a model name is never an endpoint. A visitor typing a URL as the model (Chat,
the Python API, MCP `route_chat`) gets a clear bad_request, and nothing is sent anywhere."""

from __future__ import annotations

import pytest

from core.errors import AllProvidersFailed, ErrorKind, ProviderError
from core.llm.config import load_config
from core.llm.providers import ChatRequest, build_provider
from core.llm.router import Router
from tests.fake_openai import Reply

MSG = [{"role": "user", "content": "hello"}]
SHARED_HF = "hf_sharedOwnerToken000000000"


def test_a_url_typed_as_the_hf_model_never_gets_the_shared_token(fake, db_path):
    """huggingface_hub posts to an http(s) model id as if it were the endpoint, with the shared token."""
    router = Router.from_config({"huggingface": {"token": SHARED_HF}, "router": {"max_retries": 0}}, db=db_path)
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG, model=fake.url + "/chat/completions", session="visitor")
    assert fake.requests == []
    attempt = info.value.attempts[0]
    assert attempt.outcome == ErrorKind.BAD_REQUEST.value and "URL" in attempt.error and "endpoint" in attempt.error


@pytest.mark.parametrize("kind_cfg", [{"openrouter": {}}, {"sheikh": {}}, {"groq": {}}])
def test_every_provider_refuses_a_url_model_before_sending(fake, db_path, kind_cfg):
    (name, settings), = kind_cfg.items()
    router = Router.from_config({name: {**settings, "url": fake.url, "api_key": "gsk_" + "k" * 24},
                                 "router": {"max_retries": 0}}, db=db_path)
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG, model="https://169.254.169.254/latest/meta-data", provider=name)
    assert fake.requests == [] and info.value.attempts[0].outcome == "bad_request"
    assert "URL" in info.value.attempts[0].error


@pytest.mark.parametrize(("kind", "good", "bad"), [
    ("huggingface", ["meta-llama/Llama-3.1-8B-Instruct", "org/m:fastest", "org/m:together"],
     ["gpt2 large", "org/m\n", "../../etc/passwd", "//evil.example/x"]),
    ("openrouter", ["openai/gpt-4o-mini", "meta-llama/llama-3.1-8b-instruct:free"], ["gpt-4o", "a/b c"]),
    ("sheikh", ["sheikh-pro", "fake/small"], ["http://x", "a\tb", "x" * 201]),
])
def test_model_names_are_checked_per_provider(fake, kind, good, bad):
    p = build_provider(load_config({kind: {"url": fake.url}}, env={}).provider(kind))
    for name in good:
        assert p.validate_model(name) == name
    for name in bad:
        with pytest.raises(ProviderError) as info:
            p.validate_model(name)
        assert info.value.kind == ErrorKind.BAD_REQUEST


def test_the_providers_own_configured_url_means_its_default_model(fake, db_path):
    router = Router.from_config({"sheikh": {"url": fake.url, "api_key": "k", "models": ["fake/small"]}}, db=db_path)
    fake.queue(Reply("ok"))
    assert router.chat(MSG, model=fake.url).text == "ok"
    assert fake.chat_requests[0].body["model"] == "fake/small"


def test_a_url_model_in_a_stream_is_refused_before_the_first_chunk(fake):
    p = build_provider(load_config({"huggingface": {"url": fake.url}}, env={}).provider("huggingface"))
    with pytest.raises(ProviderError) as info:
        list(p.stream(ChatRequest(MSG, "https://evil.example/v1/chat/completions"), "hf_visitor000000000", 5))
    assert info.value.kind == ErrorKind.BAD_REQUEST and fake.requests == []


def test_mcp_route_chat_refuses_a_url_model(fake, db_path):
    from core.app.mcp_server import route_chat_tool

    router = Router.from_config({"huggingface": {"token": SHARED_HF}, "router": {"max_retries": 0}}, db=db_path)
    tool = route_chat_tool(router)
    with pytest.raises(AllProvidersFailed) as info:
        tool.handler(prompt="hi", model=fake.url + "/chat/completions")
    assert fake.requests == [] and "URL" in str(info.value)
