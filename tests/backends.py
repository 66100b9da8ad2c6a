"""Both store backends for the tests: a SQLite file, or a fresh schema on the PostgreSQL server that
.ci/postgres.sh started (its URL in SPACES_OS_TEST_PG).

    def test_something(db_url):          # runs twice: [sqlite] and [postgresql]
        store = Store(db_url)

Each PostgreSQL test gets its own schema (the URL's `options=-csearch_path=…`), dropped afterwards with
the connections that used it. Without a server the [postgresql] runs skip, saying how to start one; under
CI=true they fail instead, so a CI machine without PostgreSQL cannot pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest

BACKENDS = ("sqlite", "postgresql")
ENV = "SPACES_OS_TEST_PG"


def server_url() -> str:
    """The test server's URL, or skip (fail under CI=true) when there is none."""
    url = os.environ.get(ENV)
    if not url:
        why = f"no PostgreSQL server for the tests: run `eval \"$(.ci/postgres.sh)\"` to start one ({ENV} unset)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return url


def _admin(url: str):
    import psycopg

    return psycopg.connect(url, autocommit=True)


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A URL whose connections work in a new, empty schema of the test database."""
    url = server_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _admin(url) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    yield (f"{url}{separator}options={quote(f'-csearch_path={schema}')}"
           f"&application_name={schema}")
    with _admin(url) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                     (schema,))
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, db_path: str) -> str:
    """Where a Store opens, on each backend in turn: the SQLite file `db_path`, or a fresh PostgreSQL schema."""
    if backend == "sqlite":
        return db_path
    return request.getfixturevalue("pg_schema_url")


def dump(store, table: str) -> list[tuple]:
    """Every row of `table` as stored, read beside the store (what a person with the database would see)."""
    return [tuple(r.values()) for r in store.rows(f"SELECT * FROM {table}")]


def integrity_errors() -> tuple[type[BaseException], ...]:
    """A broken constraint on either backend (a caller's bug: the store lets it through untranslated)."""
    import sqlite3

    import psycopg

    return (sqlite3.IntegrityError, psycopg.IntegrityError)
