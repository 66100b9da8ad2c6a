"""Versioned migrations: a new file gets every one once, an older file is brought up without losing rows,
reopening is a no-op, concurrent openers apply each migration once, and no table has a column for a key."""

from __future__ import annotations

import re
import sqlite3
import threading

from core.store import Store
from core.store.connection import connect
from core.store.schema import MIGRATIONS, migrate, schema_version

TABLES = {"usage", "tasks", "events", "space_actions", "audit", "workflow_runs", "workflow_steps"}


def versions(path: str) -> list[int]:
    return [r[0] for r in sqlite3.connect(path).execute("SELECT version FROM schema_version ORDER BY rowid")]


def names(path: str) -> set[str]:
    return {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}


def test_a_new_file_gets_every_migration_once_in_wal_mode(db_path):
    store = Store(db_path)
    assert store.schema_version() == len(MIGRATIONS)
    assert versions(db_path) == list(range(1, len(MIGRATIONS) + 1))
    assert names(db_path) >= TABLES
    assert "idx_usage_provider_model_latency_ms" not in names(db_path)          # dropped by v5
    assert sqlite3.connect(db_path).execute("pragma journal_mode").fetchone()[0] == "wal"


def test_reopening_and_migrating_again_are_no_ops(db_path):
    Store(db_path).close()
    again = Store(db_path)
    assert again.schema_version() == len(MIGRATIONS)
    assert migrate(again.db().conn) == len(MIGRATIONS)
    assert versions(db_path) == list(range(1, len(MIGRATIONS) + 1))


def test_an_older_file_is_brought_up_to_date_and_keeps_its_rows(db_path):
    old = connect(db_path)
    assert migrate(old, target=2) == 2
    assert "audit" not in names(db_path) and "idx_usage_provider_model_latency_ms" in names(db_path)
    old.execute("INSERT INTO usage (request_id, ts, provider, attempt, outcome) VALUES ('r1', 1, 'alpha', 1, 'ok')")
    old.execute("INSERT INTO tasks (id, prompt, status, created_at, updated_at) VALUES ('t1', 'p', 'paused', 1, 1)")
    old.close()

    store = Store(db_path)

    assert versions(db_path) == list(range(1, len(MIGRATIONS) + 1))
    assert {"audit", "workflow_runs", "workflow_steps", "idx_usage_session_ts"} <= names(db_path)
    assert "idx_usage_provider_model_latency_ms" not in names(db_path)
    assert [r["request_id"] for r in store.usage_rows()] == ["r1"]
    assert store.get_task("t1")["status"] == "paused"
    store.record_audit("key_set", detail="openrouter")             # the new tables work
    assert store.audit()[0]["detail"] == "openrouter"


def test_stores_opening_a_new_file_at_once_apply_each_migration_once(db_path):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(db_path).close()
        except BaseException as e:  # noqa: BLE001 - reported by the assert below
            errors.append(e)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert versions(db_path) == list(range(1, len(MIGRATIONS) + 1))
    assert schema_version(sqlite3.connect(db_path)) == len(MIGRATIONS)


def test_a_file_another_process_is_writing_still_opens(db_path):
    """Replicas starting together on one new file: while one writes, the next one's switch to WAL needs
    an exclusive lock that SQLite refuses at once ("database is locked", no busy wait). The opener waits."""
    writer = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE first_writer (x)")         # a new file, still in rollback-journal mode
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO first_writer VALUES (1)")
    threading.Timer(0.5, lambda: writer.execute("COMMIT")).start()
    store = Store(db_path)
    assert store.schema_version() == len(MIGRATIONS)
    assert sqlite3.connect(db_path).execute("pragma journal_mode").fetchone()[0] == "wal"
    assert sqlite3.connect(db_path).execute("SELECT x FROM first_writer").fetchall() == [(1,)]


def test_no_table_has_a_column_for_a_key_or_token(db_path):
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    secretish = re.compile(r"(^|_)(key|api_key|secret|token|password|authorization)$")
    columns = {(table, col) for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
               for col in (r[1] for r in conn.execute(f"pragma table_info({table})"))}
    assert {(t, c) for t, c in columns if t in TABLES} and not [tc for tc in columns if secretish.search(tc[1])]
    assert ("usage", "key_source") in columns         # whose key it was, never the key


def test_postgresql_runs_the_same_migrations_once_even_with_concurrent_openers(pg_schema_url):
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            store = Store(pg_schema_url)
            store.close_connections()
        except BaseException as e:  # noqa: BLE001 - reported by the assert below
            errors.append(e)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = Store(pg_schema_url)
    assert errors == []
    assert [r[0] for r in store.execute("SELECT version FROM schema_version ORDER BY version").fetchall()] == \
        list(range(1, len(MIGRATIONS) + 1))
    tables = {r[0] for r in store.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()").fetchall()}
    assert tables >= TABLES
    # unix seconds keep their fraction: REAL became DOUBLE PRECISION, not PostgreSQL's 4-byte real
    assert store.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() "
                         "AND table_name = 'usage' AND column_name = 'ts'").fetchone()[0] == "double precision"
    secretish = re.compile(r"(^|_)(key|api_key|secret|token|password|authorization)$")
    assert not [t for t in tables if t in TABLES and any(secretish.search(c) for c in store.columns(t))]
    store.close_connections()
