"""Hosted safety, item 2: the Hugging Face provider sends on its own transport. No redirect is followed,
no cookie rides from one answer to the next request, and only the key the router passes is sent
(never the machine's HF_TOKEN, and no provider-mapping lookup)."""

from __future__ import annotations

import pytest

from core.errors import AllProvidersFailed, ErrorKind, ProviderError
from core.llm.config import load_config
from core.llm.providers import ChatRequest, build_provider
from core.llm.router import Router
from tests.conftest import SENTINEL_HF
from tests.fake_openai import Reply, Status

MSG = [{"role": "user", "content": "the prompt that must stay here"}]
VISITOR = "hf_visitorToken0000000000000"


def hf(cfg: dict):
    return build_provider(load_config({"huggingface": cfg}, env={}).provider("huggingface"))


def test_a_redirect_is_not_followed_so_the_prompt_never_reaches_another_origin(fake, fake_b):
    p = hf({"url": fake.url})
    fake.queue(Status(307, "moved", headers={"Location": fake_b.url + "/chat/completions"}))
    with pytest.raises(ProviderError) as info:
        p.chat(ChatRequest(MSG, "org/model"), VISITOR, 5)
    assert info.value.kind == ErrorKind.BAD_REQUEST and info.value.status == 307
    assert len(fake.requests) == 1 and fake_b.requests == []


def test_a_cookie_from_one_answer_does_not_ride_on_the_next_request(fake):
    p = hf({"url": fake.url})
    fake.queue(Reply("first", headers={"Set-Cookie": "visitor=a; Path=/"}))
    assert p.chat(ChatRequest(MSG, "org/model"), VISITOR, 5).text == "first"
    p.chat(ChatRequest(MSG, "org/model"), "hf_otherVisitor000000000000", 5)
    assert [r.headers.get("cookie") for r in fake.requests] == [None, None]


def test_only_the_routers_key_is_sent_never_the_machine_token(fake, db_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SENTINEL_HF)
    router = Router(load_config({"huggingface": {"url": fake.url, "provider": "together", "bill_to": "acme"}},
                                env={}), None)
    fake.queue(Reply("ok"))
    assert router.chat(MSG, model="meta-llama/Llama-3.1-8B-Instruct", keys={"huggingface": VISITOR}).text == "ok"
    assert [(r.method, r.path) for r in fake.requests] == [("POST", "/v1/chat/completions")]   # no mapping lookup
    request = fake.requests[0]
    assert request.headers["authorization"] == f"Bearer {VISITOR}" and SENTINEL_HF not in str(request.headers)
    assert request.body["model"] == "meta-llama/Llama-3.1-8B-Instruct:together"   # the router resolves it
    assert request.headers["x-hf-bill-to"] == "acme"


def test_streaming_keeps_usage_and_the_policy_suffix(fake, db_path):
    router = Router.from_config({"huggingface": {"url": fake.url}}, db=db_path)
    stream = router.stream(MSG, model="org/model:cheapest", keys={"huggingface": VISITOR})
    assert stream.text() and stream.result.usage.tokens_in == 7 and stream.result.usage.tokens_out == 5
    assert fake.chat_requests[0].body["model"] == "org/model:cheapest"


def test_a_redirect_on_a_stream_is_an_error_too(fake, fake_b, db_path):
    router = Router.from_config({"huggingface": {"url": fake.url}, "router": {"max_retries": 0}}, db=db_path)
    fake.queue(Status(302, "elsewhere", headers={"Location": fake_b.url + "/chat/completions"}))
    with pytest.raises(AllProvidersFailed):
        router.stream(MSG, model="org/model", keys={"huggingface": VISITOR}).text()
    assert fake_b.requests == []
