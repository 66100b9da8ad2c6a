"""The router against real HTTP on 127.0.0.1: the failure matrix, keys, fallback, cooldown, usage rows."""

from __future__ import annotations

import socket
import time

import pytest

from core.errors import AllProvidersFailed, StreamInterrupted
from core.llm.router import Router
from core.store import Store
from tests.conftest import SENTINEL_KEY
from tests.fake_openai import Hang, NotJSON, Reply, Status, StreamThenError, Truncated, model_answer

MSG = [{"role": "user", "content": "hello router"}]


def make_router(providers: dict, db: str, clock=None, router: dict | None = None) -> Router:
    config = dict(providers)
    config["router"] = {"backoff_base": 0.01, "backoff_cap": 0.05, **(router or {})}
    kwargs = {"clock": clock, "sleep": clock.sleep} if clock else {}
    return Router.from_config(config, db=db, **kwargs)


def usage(router: Router, request_id: str) -> list[dict]:
    router.store.flush()
    return router.store.usage_rows(request_id=request_id)


def auth_header(request) -> str | None:
    return request.headers.get("authorization")


def one(fake, **extra) -> dict:
    return {"alpha": {"url": fake.url, "api_key": "shared-alpha", "models": ["fake/small"], "timeout": 5, **extra}}


def two(fake, fake_b, **extra) -> dict:
    return {"alpha": {"url": fake.url, "api_key": "shared-alpha", "models": ["fake/small"], "timeout": 5, **extra},
            "beta": {"url": fake_b.url, "api_key": "shared-beta", "models": ["fake/large"], "timeout": 5}}


# ---------------------------------------------------------------- happy path and usage rows

def test_chat_returns_text_provider_key_source_and_one_usage_row(fake, db_path):
    router = make_router(one(fake), db_path)
    fake.queue(Reply("hi there", tokens_in=11, tokens_out=3, cost=0.0004))
    result = router.chat(MSG, session="session-1")
    assert (result.text, result.provider, result.model, result.key_source) == ("hi there", "alpha", "fake/small",
                                                                                "shared")
    assert (result.usage.tokens_in, result.usage.tokens_out, result.usage.cost_usd) == (11, 3, 0.0004)
    rows = usage(router, result.request_id)
    assert len(rows) == 1
    row = rows[0]
    assert row["outcome"] == "ok" and row["provider"] == "alpha" and row["cost_source"] == "provider"
    assert row["session"] and row["session"] != "session-1"     # stored only as a hash
    assert row["latency_ms"] > 0 and row["tokens_in"] == 11
    assert fake.chat_requests[0].body["model"] == "fake/small"
    assert auth_header(fake.chat_requests[0]) == "Bearer shared-alpha"


def test_usage_rows_are_visible_to_another_reader_within_a_second(fake, db_path):
    router = make_router(one(fake), db_path)
    result = router.chat(MSG)
    reader = Store(db_path)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and not reader.usage_rows(request_id=result.request_id):
        time.sleep(0.01)
    assert len(reader.usage_rows(request_id=result.request_id)) == 1


def test_cost_falls_back_to_price_table_when_provider_reports_none(fake, db_path):
    cfg = one(fake)
    cfg["alpha"]["models"] = ["openai/gpt-4o-mini"]
    router = make_router(cfg, db_path)
    fake.queue(Reply("x", tokens_in=1_000_000, tokens_out=1_000_000))
    result = router.chat(MSG)
    assert result.usage.cost_usd == pytest.approx(0.15 + 0.60)
    assert usage(router, result.request_id)[0]["cost_source"] == "price_table"


# ---------------------------------------------------------------- the failure matrix

def test_429_with_retry_after_waits_that_long_then_retries_same_provider(fake, db_path, clock):
    router = make_router(one(fake), db_path, clock)
    fake.queue(Status(429, "slow down", retry_after="2"), Reply("after the wait"))
    result = router.chat(MSG)
    assert result.text == "after the wait" and result.provider == "alpha"
    assert [a.outcome for a in result.attempts] == ["rate_limited", "ok"]
    assert result.attempts[0].http_status == 429 and result.attempts[0].retry_after == 2.0
    assert clock.sleeps == [pytest.approx(2.0, abs=0.05)]
    assert [r["outcome"] for r in usage(router, result.request_id)] == ["rate_limited", "ok"]


def test_429_retry_after_beyond_cap_is_not_waited_for(fake, db_path, clock):
    router = make_router(one(fake), db_path, clock, router={"retry_after_cap": 5})
    fake.queue(Status(429, retry_after="60"))
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG)
    assert clock.sleeps == []
    assert "rate limited (HTTP 429)" in str(info.value)


def test_429_without_retry_after_backs_off_with_jitter(fake, db_path, clock):
    router = make_router(one(fake), db_path, clock, router={"backoff_base": 1.0, "backoff_cap": 8.0})
    fake.queue(Status(429), Status(429), Reply("third time"))
    result = router.chat(MSG)
    assert result.text == "third time"
    first, second = clock.sleeps
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0     # equal jitter over 1 s, then 2 s


def test_429_fails_over_to_a_ready_provider_instead_of_sleeping(fake, fake_b, db_path, clock):
    router = make_router(two(fake, fake_b), db_path, clock)
    fake.queue(Status(429, retry_after="3"))
    fake_b.queue(Reply("from beta"))
    result = router.chat(MSG)
    assert (result.text, result.provider) == ("from beta", "beta")
    assert clock.sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_falls_back_to_next_provider(fake, fake_b, db_path, clock, status):
    router = make_router(two(fake, fake_b), db_path, clock, router={"max_retries": 0})
    fake.queue(Status(status, "upstream broke"))
    fake_b.queue(Reply("beta answered"))
    result = router.chat(MSG)
    assert (result.provider, result.text, result.key_source) == ("beta", "beta answered", "shared")
    assert [(a.provider, a.outcome, a.http_status) for a in result.attempts] == [
        ("alpha", "unavailable", status), ("beta", "ok", 200)]
    rows = usage(router, result.request_id)
    assert [(r["provider"], r["outcome"], r["attempt"]) for r in rows] == [("alpha", "unavailable", 1),
                                                                           ("beta", "ok", 2)]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_is_unavailable_and_falls_back(fake_b, db_path):
    cfg = {"dead": {"url": f"http://127.0.0.1:{_closed_port()}/v1", "api_key": "k", "timeout": 2},
           "beta": {"url": fake_b.url, "api_key": "shared-beta"}}
    router = make_router(cfg, db_path, router={"max_retries": 0})
    result = router.chat(MSG)
    assert result.provider == "beta"
    assert result.attempts[0].outcome == "unavailable" and result.attempts[0].http_status is None
    assert "cannot reach" in result.attempts[0].error


def test_read_timeout_is_timeout_and_falls_back(fake, fake_b, db_path):
    cfg = two(fake, fake_b)
    cfg["alpha"]["timeout"] = 0.3
    router = make_router(cfg, db_path, router={"max_retries": 0})
    fake.queue(Hang(1.5))
    result = router.chat(MSG)
    assert result.provider == "beta"
    assert result.attempts[0].outcome == "timeout"
    assert result.attempts[0].latency_ms < 1200


def test_non_json_body_is_bad_response_and_not_retried(fake, fake_b, db_path, clock):
    router = make_router(two(fake, fake_b), db_path, clock)
    fake.queue(NotJSON(200))
    result = router.chat(MSG)
    assert [a.outcome for a in result.attempts] == ["bad_response", "ok"]
    assert len(fake.chat_requests) == 1


def test_2xx_without_choices_is_bad_response(fake, fake_b, db_path):
    router = make_router(two(fake, fake_b), db_path)
    fake.queue(Reply("x", extra={"choices": []}))
    result = router.chat(MSG)
    assert result.attempts[0].outcome == "bad_response" and result.provider == "beta"


def test_error_in_the_middle_of_a_stream_keeps_partial_text_and_does_not_fail_over(fake, fake_b, db_path):
    router = make_router(two(fake, fake_b), db_path)
    fake.queue(StreamThenError(chunks=3, message="provider died"))
    stream = router.stream(MSG)
    received = []
    with pytest.raises(StreamInterrupted) as info:
        for chunk in stream:
            received.append(chunk)
    assert len(received) == 3
    assert info.value.partial_text == "".join(received) and info.value.partial_text
    assert "provider died" in str(info.value)
    assert fake_b.chat_requests == []                       # no failover after the first token
    rows = usage(router, stream.request_id)
    assert [r["outcome"] for r in rows] == ["stream_error"] and rows[0]["streamed"] == 1


def test_truncated_sse_after_tokens_is_a_stream_error(fake, fake_b, db_path):
    router = make_router(two(fake, fake_b), db_path)
    fake.queue(Truncated(chunks=2))
    with pytest.raises(StreamInterrupted) as info:
        list(router.stream(MSG))
    assert info.value.partial_text
    assert [a.outcome for a in info.value.attempts] == ["stream_error"]


def test_truncated_sse_before_first_token_fails_over(fake, fake_b, db_path):
    router = make_router(two(fake, fake_b), db_path)
    fake.queue(Truncated(chunks=0))
    stream = router.stream(MSG)
    text = "".join(stream)
    assert text == model_answer(MSG)
    assert stream.result.provider == "beta"
    assert [a.outcome for a in stream.result.attempts] == ["stream_error", "ok"]


def test_stream_records_ttft_and_full_text(fake, db_path):
    router = make_router(one(fake), db_path)
    fake.queue(Reply(chunk_delay=0.002, cost=0.001))
    stream = router.stream(MSG)
    text = stream.text()
    assert text == model_answer(MSG) == stream.result.text
    assert stream.result.ttft_ms is not None and stream.result.ttft_ms <= stream.result.latency_ms
    row = usage(router, stream.request_id)[0]
    assert row["ttft_ms"] > 0 and row["cost_usd"] == 0.001 and row["tokens_out"] == 5


# ---------------------------------------------------------------- keys

def test_byok_401_falls_back_to_shared_key_on_same_provider(fake, db_path):
    router = make_router(one(fake), db_path)
    fake.queue(Status(401, "invalid key"), Reply("with the shared key"))
    result = router.chat(MSG, keys={"alpha": SENTINEL_KEY})
    assert (result.text, result.key_source) == ("with the shared key", "shared")
    assert [(a.key_source, a.outcome) for a in result.attempts] == [("byok", "auth"), ("shared", "ok")]
    assert [auth_header(r) for r in fake.chat_requests] == [f"Bearer {SENTINEL_KEY}", "Bearer shared-alpha"]
    assert SENTINEL_KEY not in str(result.attempts)


def test_always_use_this_key_never_touches_shared_key_after_byok_failure(fake, fake_b, db_path):
    router = make_router(two(fake, fake_b, always_use_this_key=True), db_path)
    fake.queue(Status(401, "invalid key"))
    result = router.chat(MSG, keys={"alpha": SENTINEL_KEY})
    assert result.provider == "beta"
    assert [(a.provider, a.key_source, a.outcome) for a in result.attempts] == [
        ("alpha", "byok", "auth"), ("beta", "shared", "ok")]
    assert [auth_header(r) for r in fake.chat_requests] == [f"Bearer {SENTINEL_KEY}"]   # never shared-alpha


def test_always_use_this_key_failure_is_final_when_nothing_else(fake, db_path):
    router = make_router(one(fake, always_use_this_key=True), db_path)
    fake.queue(Status(402, "no credits"))
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG, keys={"alpha": SENTINEL_KEY})
    assert [a.outcome for a in info.value.attempts] == ["payment"]
    assert "out of credits" in str(info.value) and SENTINEL_KEY not in str(info.value)
    assert len(fake.chat_requests) == 1


def test_always_use_this_key_without_session_key_uses_shared_key(fake, db_path):
    router = make_router(one(fake, always_use_this_key=True), db_path)
    result = router.chat(MSG)
    assert result.key_source == "shared"
    assert auth_header(fake.chat_requests[0]) == "Bearer shared-alpha"


def test_always_use_this_key_off_byok_402_falls_back_to_shared(fake, db_path):
    router = make_router(one(fake, always_use_this_key=False), db_path)
    fake.queue(Status(402, "no credits"), Reply("shared pays"))
    result = router.chat(MSG, keys={"alpha": SENTINEL_KEY})
    assert result.key_source == "shared" and result.text == "shared pays"


def test_keys_of_two_providers_never_cross_hosts(fake, fake_b, db_path):
    router = make_router(two(fake, fake_b), db_path)
    fake.queue(Status(503), Status(503), Status(503))
    result = router.chat(MSG, keys={"alpha": "byok-alpha-key", "beta": "byok-beta-key"})
    assert result.provider == "beta"
    seen_a = {auth_header(r) for r in fake.chat_requests}
    seen_b = {auth_header(r) for r in fake_b.chat_requests}
    assert seen_a <= {"Bearer byok-alpha-key", "Bearer shared-alpha"}
    assert seen_b <= {"Bearer byok-beta-key", "Bearer shared-beta"}
    assert "Bearer byok-alpha-key" in seen_a and seen_b == {"Bearer byok-beta-key"}


def test_session_keys_are_not_kept_by_the_router(fake, db_path):
    router = make_router(one(fake), db_path)
    router.chat(MSG, keys={"alpha": SENTINEL_KEY})
    fake.reset()
    router.chat(MSG)                       # a second session with no key
    assert auth_header(fake.chat_requests[0]) == "Bearer shared-alpha"
    assert SENTINEL_KEY not in repr(router.providers["alpha"].__dict__)


# ---------------------------------------------------------------- cooldown

def test_cooldown_opens_after_consecutive_failures_then_half_opens_and_closes(fake, fake_b, db_path, clock):
    router = make_router(two(fake, fake_b), db_path, clock,
                         router={"max_retries": 0, "cooldown_after": 3, "cooldown_seconds": 30})
    fake.queue(Status(503), Status(503), Status(503))
    for _ in range(3):
        assert router.chat(MSG).provider == "beta"
    assert router.breakers.snapshot("alpha")["state"] == "open"

    skipped = router.chat(MSG)                         # open: alpha is not called at all
    assert [a.outcome for a in skipped.attempts] == ["cooldown_skip", "ok"]
    assert len(fake.chat_requests) == 3
    assert [r["outcome"] for r in usage(router, skipped.request_id)] == ["cooldown_skip", "ok"]

    clock.advance(31)                                  # half-open: one probe goes through
    probe = router.chat(MSG)
    assert probe.provider == "alpha" and len(fake.chat_requests) == 4
    assert router.breakers.snapshot("alpha")["state"] == "closed"


def test_failed_half_open_probe_reopens_the_circuit(fake, fake_b, db_path, clock):
    router = make_router(two(fake, fake_b), db_path, clock,
                         router={"max_retries": 0, "cooldown_after": 2, "cooldown_seconds": 10})
    fake.queue(Status(500), Status(500), Status(500))
    router.chat(MSG)
    router.chat(MSG)
    clock.advance(11)
    result = router.chat(MSG)                          # the probe fails → open again
    assert [a.outcome for a in result.attempts] == ["unavailable", "ok"]
    assert router.breakers.snapshot("alpha")["state"] == "open"
    assert [a.outcome for a in router.chat(MSG).attempts] == ["cooldown_skip", "ok"]


def test_cooldown_is_shared_by_all_sessions(fake, fake_b, db_path, clock):
    router = make_router(two(fake, fake_b), db_path, clock, router={"max_retries": 0, "cooldown_after": 1})
    fake.queue(Status(503))
    router.chat(MSG, session="one")
    other = router.chat(MSG, session="two", keys={"alpha": "their-own-key"})
    assert other.attempts[0].outcome == "cooldown_skip"


# ---------------------------------------------------------------- plan order and errors

def test_plan_order_explicit_provider_then_prefer_then_priority_then_file_order(fake, db_path):
    cfg = {"a": {"url": fake.url, "api_key": "1"}, "b": {"url": fake.url, "api_key": "2", "priority": 2},
           "c": {"url": fake.url, "api_key": "3", "priority": True}, "d": {"url": fake.url, "api_key": "4"}}
    router = make_router(cfg, db_path)
    names = lambda **kw: [c.name for c in router.plan(**kw)]  # noqa: E731
    assert names() == ["c", "b", "a", "d"]
    assert names(prefer=["d"]) == ["d", "c", "b", "a"]
    assert names(provider="a", prefer=["d"]) == ["a", "d", "c", "b"]


def test_fallback_false_provider_is_never_tried_as_a_fallback(fake, fake_b, db_path):
    cfg = two(fake, fake_b)
    cfg["beta"]["fallback"] = False
    router = make_router(cfg, db_path, router={"max_retries": 0})
    fake.queue(Status(500))
    with pytest.raises(AllProvidersFailed):
        router.chat(MSG)
    assert fake_b.chat_requests == []
    assert router.chat(MSG, provider="beta").provider == "beta"     # still usable as the first choice


def test_all_failed_error_lists_every_attempt_in_plain_words(fake, fake_b, db_path):
    router = make_router(two(fake, fake_b), db_path, router={"max_retries": 0})
    fake.queue(Status(401, "bad key"))
    fake_b.queue(Status(503))
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG)
    text = str(info.value)
    assert "alpha / fake/small with shared key: key refused (HTTP 401)" in text
    assert "beta / fake/large with shared key: unavailable (HTTP 503)" in text
    assert "What to do:" in text


def test_request_deadline_stops_retrying(fake, db_path, clock):
    router = make_router(one(fake), db_path, clock, router={"deadline": 3, "max_retries": 5})
    fake.queue(*[Status(503, retry_after="2")] * 5)
    with pytest.raises(AllProvidersFailed):
        router.chat(MSG)
    assert sum(clock.sleeps) < 3


# ---------------------------------------------------------------- demo

def test_no_keys_anywhere_means_demo_labelled_as_demo(db_path):
    router = Router.from_config({"demo": {"pace_ms": 0}}, db=db_path)
    result = router.chat([{"role": "user", "content": "What's 2+2?"}])
    assert result.key_source == "demo" and result.demo and result.provider == "demo"
    assert "4" in result.text
    assert router.is_demo()


def test_configured_provider_that_fails_never_silently_falls_back_to_demo(fake, db_path):
    router = make_router(one(fake), db_path, router={"max_retries": 0})
    fake.queue(Status(500))
    with pytest.raises(AllProvidersFailed) as info:
        router.chat(MSG)
    assert all(a.provider != "demo" for a in info.value.attempts)


def test_provider_without_any_key_is_not_used(fake, db_path):
    cfg = {"alpha": {"url": fake.url}, "demo": {"pace_ms": 0}}
    router = make_router(cfg, db_path)
    assert router.is_demo()
    assert router.chat(MSG).provider == "demo"
    assert router.chat(MSG, keys={"alpha": "mine"}).provider == "alpha"


def test_plain_requests_reuse_the_plan_but_never_its_retry_state(fake, fake_b, db_path, clock):
    router = make_router(two(fake, fake_b), db_path, clock)
    fake.queue(Status(429, retry_after="1"), Reply("alpha after wait"))
    fake_b.queue(Status(500))
    first = router.chat(MSG)
    assert [a.outcome for a in first.attempts] == ["rate_limited", "unavailable", "ok"]
    second = router.plan()
    assert [(c.name, c.retries, c.ready_at, c.deferred) for c in second] == [("alpha", 0, 0.0, False),
                                                                             ("beta", 0, 0.0, False)]
    assert router.plan(keys={"alpha": "own"})[0].key_source == "byok"     # session keys bypass the cache
