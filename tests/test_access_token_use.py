"""A console access token's "last used" time is written at most once a minute, not on every API request
(a write transaction per call cost the gateway ~0.2 ms a request in bench/gateway.py). SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from core.app.gateway.tokens import USE_RECORDED_EVERY, TokenService, TokenSpec
from core.store import Store
from tests.browser import streamlit_server


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def last_used(store: Store, token_id: str) -> float | None:
    return next(r.last_used_at for r in store.access_tokens() if r.id == token_id)


def test_use_is_recorded_on_first_use_then_at_most_once_a_minute(store):
    clock = Clock(1_000.0)
    tokens = TokenService(store, clock=clock)
    issued = tokens.create(TokenSpec("ci", ("chat",)))

    def use(at: float) -> None:
        clock.now = at
        tokens.record_use(tokens.verify(issued.token))

    use(1_000.0)
    assert last_used(store, issued.grant.id) == 1_000.0
    use(1_000.0 + USE_RECORDED_EVERY - 1)
    assert last_used(store, issued.grant.id) == 1_000.0          # within the minute: no write
    use(1_000.0 + USE_RECORDED_EVERY)
    assert last_used(store, issued.grant.id) == 1_000.0 + USE_RECORDED_EVERY


def test_api_requests_within_a_minute_write_the_token_once(tmp_path, fake):
    """Through the real console: the first request sets "last used"; the next ones in the minute leave it."""
    config, db = tmp_path / "agentic-config.yaml", tmp_path / "console.db"
    config.write_text(f"local:\n  url: {fake.url}\n  api_key: shared\n  models: [fake-model]\n")
    store = Store(str(db))
    issued = TokenService(store).create(TokenSpec("api", ("chat",)))
    body = {"model": "local/fake-model", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {issued.token}"}
    try:
        with streamlit_server({"SPACES_OS_DB": str(db), "AGENTIC_CONFIG": str(config), "HF_TOKEN": "",
                               "OPENROUTER_API_KEY": "", "OPENROUTER_KEY": ""}) as base:
            answer = httpx.post(base + "/v1/chat/completions", json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            first = last_used(store, issued.grant.id)
            assert first is not None
            for _ in range(3):
                assert httpx.post(base + "/v1/chat/completions", json=body, headers=headers).status_code == 200
            assert last_used(store, issued.grant.id) == first
    finally:
        store.close()
