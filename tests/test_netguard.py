"""SSRF guard: visitor endpoints may not reach loopback, private, link-local or metadata addresses,
including by DNS rebinding (checked at connect time, on the address actually connected to)."""

from __future__ import annotations

import httpx
import pytest

from core.errors import AllProvidersFailed
from core.llm.config import ProviderConfig
from core.llm.netguard import BlockedURL, GuardedTransport, address_problem, check_url, resolve_checked
from core.llm.router import Router

MSG = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("url,words", [
    ("http://api.example.com/v1", "https"),
    ("https://localhost/v1", "local name"),
    ("https://127.0.0.1/v1", "loopback"),
    ("https://[::1]/v1", "loopback"),
    ("https://169.254.169.254/latest", "metadata"),
    ("https://10.0.0.8/v1", "private"),
    ("https://user:secret@api.example.com/v1", "key field"),
    ("https://metadata.google.internal/v1", "local name"),
])
def test_static_check_refuses_unsafe_urls(url, words):
    with pytest.raises(BlockedURL, match=words):
        check_url(url)


def test_static_check_accepts_a_public_https_url():
    assert check_url(" https://api.example.com/v1 ") == "https://api.example.com/v1"


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "::ffff:127.0.0.1", "fc00::1"])
def test_unsafe_addresses_are_named(address):
    assert address_problem(address)


def test_public_address_is_allowed():
    assert address_problem("93.184.216.34") is None


def test_any_unsafe_address_in_a_resolution_refuses_the_host():
    with pytest.raises(BlockedURL, match="resolves to 127.0.0.1"):
        resolve_checked("mixed.example", 443, lambda h, p: ["93.184.216.34", "127.0.0.1"])


def test_dns_rebinding_is_caught_at_connect_time(fake):
    """The name passes the static check, but resolves to loopback when connecting: nothing is sent."""
    url = f"https://rebind.example:{fake.port}/v1/chat/completions"
    assert check_url(url) == url                       # looks public by name
    client = httpx.Client(transport=GuardedTransport(resolver=lambda host, port: ["127.0.0.1"]))
    with pytest.raises(BlockedURL, match="loopback"):
        client.post(url, json={})
    assert fake.requests == []


def test_guarded_provider_turns_a_block_into_a_clear_error(fake, db_path, monkeypatch):
    monkeypatch.setattr("core.llm.netguard.system_resolver", lambda host, port: ["127.0.0.1"])
    endpoint = ProviderConfig(name="mine", kind="openai_compatible", base_url="https://mine.example/v1/chat/completions",
                              options={"guarded": True})
    router = Router.from_config({"demo": {"pace_ms": 0}}, db=db_path)
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG, endpoints=[endpoint], keys={"mine": "visitor-key"}, provider="mine")
    assert info.value.attempts[0].outcome == "bad_request"
    assert "not allowed" in info.value.attempts[0].error
    assert fake.requests == []


def test_session_endpoint_is_used_with_the_sessions_key(fake, db_path):
    endpoint = ProviderConfig(name="mine", kind="openai_compatible", base_url=fake.url + "/chat/completions",
                              models=["m"])
    router = Router.from_config({"demo": {"pace_ms": 0}}, db=db_path)
    result = router.chat(MSG, endpoints=[endpoint], keys={"mine": "visitor-key"})
    assert result.provider == "mine" and result.key_source == "byok"
    assert fake.chat_requests[0].headers["authorization"] == "Bearer visitor-key"
    assert router.chat(MSG).provider == "demo"            # other sessions never see it


def test_use_shared_false_leaves_out_shared_keys_with_a_clear_reason(fake, db_path):
    router = Router.from_config({"a": {"url": fake.url, "api_key": "shared"}}, db=db_path)
    with pytest.raises(AllProvidersFailed, match="used up"):
        router.chat(MSG, use_shared=False)
    assert router.chat(MSG, use_shared=False, keys={"a": "own"}).key_source == "byok"
    assert fake.chat_requests[-1].headers["authorization"] == "Bearer own"
