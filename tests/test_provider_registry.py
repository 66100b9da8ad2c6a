"""A provider owns its facts (env key names, default models, key shape, base URL), and adding one is a
module plus a registry line: proved with Groq, direct, against the local fake server."""

from __future__ import annotations

import pytest

from core.llm.config import load_config
from core.llm.providers import PROVIDER_CLASSES, ChatRequest, build_provider, key_problem
from core.llm.providers.groq import GroqProvider
from core.llm.router import Router
from tests.fake_openai import Reply

MSG = [{"role": "user", "content": "hello"}]
GROQ_KEY = "gsk_" + "a1" * 14


def test_groq_is_one_registry_line_and_talks_openai_compatible(fake, db_path):
    assert PROVIDER_CLASSES["groq"] is GroqProvider
    router = Router.from_config({"groq": {"url": fake.url, "models": ["llama-3.1-8b-instant"]}}, db=db_path)
    fake.queue(Reply("from groq"))
    result = router.chat(MSG, keys={"groq": GROQ_KEY})
    assert (result.text, result.provider, result.key_source) == ("from groq", "groq", "byok")
    request = fake.chat_requests[0]
    assert request.path == "/v1/chat/completions" and request.headers["authorization"] == f"Bearer {GROQ_KEY}"
    assert request.body["model"] == "llama-3.1-8b-instant"


def test_groq_facts_come_from_its_module():
    cfg = load_config({"groq": {}}, env={"GROQ_API_KEY": GROQ_KEY}).provider("groq")
    assert cfg.kind == "groq" and cfg.api_key == GROQ_KEY and cfg.models == list(GroqProvider.default_models)
    assert build_provider(cfg).chat_url == "https://api.groq.com/openai/v1/chat/completions"


def test_env_key_names_and_default_models_are_the_providers_own():
    env = {"HF_TOKEN": "hf_machine0000000000", "OPENROUTER_KEY": "sk-or-v1-fromenv000000"}
    cfg = load_config(None, env=env)
    hf, orr = cfg.provider("huggingface"), cfg.provider("openrouter")
    assert hf.api_key == env["HF_TOKEN"] and hf.models == list(PROVIDER_CLASSES["huggingface"].default_models)
    assert orr.api_key == env["OPENROUTER_KEY"] and orr.base_url == PROVIDER_CLASSES["openrouter"].default_base_url


@pytest.mark.parametrize(("provider", "key", "owner"), [
    ("huggingface", "sk-or-v1-0123456789abcdef", "OpenRouter"),
    ("hf", GROQ_KEY, "Groq"),
    ("openrouter", "hf_abcdefgh12345678", "Hugging Face"),
    ("groq", "sk-or-v1-0123456789abcdef", "OpenRouter"),
])
def test_a_key_shaped_like_another_providers_is_refused_in_plain_words(provider, key, owner):
    problem = key_problem(provider, key)
    assert problem and problem.startswith("This looks like") and owner in problem and "field" in problem


@pytest.mark.parametrize(("provider", "key"), [
    ("huggingface", "hf_abcdefgh12345678"), ("openrouter", "sk-or-v1-0123456789abcdef"), ("groq", GROQ_KEY),
    ("sheikh", "sk-or-v1-0123456789abcdef"), ("openai_compatible", "anything-at-all"), ("demo", "x"),
])
def test_a_key_of_the_right_shape_or_for_a_custom_endpoint_is_fine(provider, key):
    assert key_problem(provider, key) is None


def test_a_huggingface_key_must_start_with_hf():
    assert "hf_" in key_problem("huggingface", "not-a-token-at-all")


def test_the_router_refuses_a_wrong_shaped_key_without_sending_it(fake, db_path):
    p = build_provider(load_config({"groq": {"url": fake.url}}, env={}).provider("groq"))
    assert "OpenRouter" in (p.accepts_key("sk-or-v1-0123456789abcdef") or "")
    assert p.chat(ChatRequest(MSG, "llama-3.1-8b-instant"), GROQ_KEY, 5).text
