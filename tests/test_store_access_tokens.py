"""Console access tokens in the store (core/store/access_tokens.py) and through TokenService, on SQLite and
PostgreSQL; and `Store.close()` / the composition root's shutdown closing the PostgreSQL pool."""

from __future__ import annotations

import time

import psycopg
import pytest

from core.app.gateway.tokens import TokenService, TokenSpec, token_hash
from core.app.services import ServiceRoot
from core.llm.keys import session_hash
from core.store import AccessTokenRow, Store, UsageRow
from tests.backends import server_url


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()


def row(token_id: str, created_at: float, **extra) -> AccessTokenRow:
    return AccessTokenRow(id=token_id, name=f"n-{token_id}", token_hash=f"h-{token_id}", created_at=created_at,
                          **extra)


def test_every_field_round_trips_and_the_list_is_newest_first(store):
    full = row("t1", 100.0, expires_at=200.5, scopes="chat,spaces-read", providers="openrouter",
               requests_per_minute=30, tokens_per_day=1000, usd_per_day=0.5)
    store.create_access_token(full)
    store.create_access_token(row("t2", 150.0))
    assert store.access_token_by_hash("h-t1") == full
    assert store.access_token_by_hash("h-unknown") is None
    assert [r.id for r in store.access_tokens()] == ["t2", "t1"]


def test_revoke_keeps_the_first_time_and_touch_records_the_last_use(store):
    store.create_access_token(row("t1", 100.0))
    store.revoke_access_token("t1", 300.0)
    store.revoke_access_token("t1", 400.0)                    # already revoked: unchanged
    store.touch_access_token("t1", 350.0)
    got = store.access_token_by_hash("h-t1")
    assert (got.revoked_at, got.last_used_at) == (300.0, 350.0)


def test_token_spend_sums_the_usage_rows_of_its_session_since_a_time(store):
    mine, other = session_hash("api-token:t1"), session_hash("api-token:t2")
    store.record_attempts([
        UsageRow(request_id="r1", ts=1000.0, session=mine, provider="a", attempt=1, outcome="ok", tokens_in=10,
                 tokens_out=5, cost_usd=0.25),
        UsageRow(request_id="r2", ts=2000.0, session=mine, provider="a", attempt=1, outcome="ok", tokens_in=1,
                 cost_usd=0.5),
        UsageRow(request_id="r3", ts=2000.0, session=other, provider="a", attempt=1, outcome="ok", tokens_in=99),
    ], wait=True)
    store.flush()
    assert store.token_spend(mine, since=500.0) == (16, 0.75)
    assert store.token_spend(mine, since=1500.0) == (1, 0.5)
    assert store.token_spend(session_hash("nobody"), since=0.0) == (0, 0.0)


def test_token_service_creates_verifies_lists_and_revokes(store):
    tokens = TokenService(store)
    issued = tokens.create(TokenSpec("ci  runner", ("spaces-read", "chat"), ("openrouter",), requests_per_minute=5))
    assert issued.token.startswith("sos_")
    grant = tokens.verify(issued.token)
    assert (grant.name, grant.scopes, grant.providers, grant.requests_per_minute) == (
        "ci runner", ("chat", "spaces-read"), ("openrouter",), 5)
    assert store.access_token_by_hash(token_hash(issued.token)).id == grant.id
    assert issued.token not in str(store.rows("SELECT * FROM access_tokens"))      # only its hash is kept
    (listed,) = tokens.listed()
    assert (listed["name"], listed["state"], listed["requests/min"]) == ("ci runner", "live", 5)
    tokens.revoke(grant.id)
    assert tokens.verify(issued.token) is None and tokens.listed()[0]["state"] == "revoked"


def _connections(url: str, application_name: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                            (application_name,)).fetchone()[0]


def _until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _name(url: str) -> str:
    return url.rsplit("application_name=", 1)[1]


def test_closing_the_store_closes_its_postgresql_pool_and_a_later_call_opens_a_new_one(pg_schema_url):
    store = Store(pg_schema_url)
    admin, name = server_url(), _name(pg_schema_url)
    assert _connections(admin, name) >= 1
    store.close()
    assert _until(lambda: _connections(admin, name) == 0), "the pool's connections are still open"
    assert store.schema_version() >= 8                         # used again (a late checkpoint): a new pool
    store.close()
    assert _until(lambda: _connections(admin, name) == 0)


def test_the_composition_roots_shutdown_closes_the_store_after_the_manager(pg_schema_url, tmp_path):
    root = ServiceRoot(env={"SPACES_OS_DB": pg_schema_url}, cwd=tmp_path)
    assert root.current().store.dialect == "postgresql"
    admin, name = server_url(), _name(pg_schema_url)
    assert _connections(admin, name) >= 1
    root.shutdown()
    assert _until(lambda: _connections(admin, name) == 0), "the shut-down console still holds connections"
