"""The background usage writer (flush, close, visibility, lost writes reported) and write transactions.
Migrations: test_store_migrations.py; the usage table's queries: test_store_usage.py."""

from __future__ import annotations

import re
import sqlite3
import threading
import time

import pytest

from core.store import Store, UsageRow


def row(i: int, **extra) -> dict:
    return {"request_id": f"r{i}", "ts": time.time(), "provider": "p", "attempt": 1, "outcome": "ok", **extra}


@pytest.fixture
def store(db_url):
    s = Store(db_url)
    yield s
    s.close()
    s.close_connections()


def test_flush_makes_every_queued_row_visible_to_another_connection(store):
    store.record_attempts([row(i) for i in range(250)])
    store.flush()
    assert store.execute("SELECT count(*) FROM usage").fetchone()[0] == 250      # not the writer's connection


def test_rows_become_visible_within_a_second_without_flush(store):
    store.record_attempts([row(1)])
    deadline = time.monotonic() + 1.0
    while store.execute("SELECT count(*) FROM usage").fetchone()[0] == 0:
        assert time.monotonic() < deadline, "row not visible within 1 s"
        time.sleep(0.01)


def test_close_writes_what_is_queued_and_a_later_row_starts_a_new_writer(store):
    store.record_attempts([row(i) for i in range(10)])
    store.close()
    assert store.usage_count() == 10
    store.record_attempts([row(99)], wait=True)
    assert store.usage_count() == 11


def test_concurrent_writers_lose_no_rows(store):

    def burst(n: int) -> None:
        for i in range(200):
            store.record_attempts([row(n * 1000 + i)])

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.flush()
    assert store.usage_count() == 1200 and store.write_errors == []


def test_a_failed_transaction_leaves_no_half_written_rows(store):
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.execute("INSERT INTO events (ts, kind, message) VALUES (1, 'a', 'first')")
        raise RuntimeError("boom in the middle")
    assert store.events() == []


def test_25_threads_each_hold_a_postgresql_connection_at_once_by_default(pg_schema_url, monkeypatch):
    """A Streamlit process runs a thread per session, plus the manager's and the writer's: at the old default
    of 10 connections, 50 load sessions queued for one on 90 % of checkouts (bench/README.md)."""
    monkeypatch.delenv("SPACES_OS_DB_POOL", raising=False)
    store = Store(pg_schema_url)
    all_in = threading.Barrier(25)
    failures: list[BaseException] = []

    def hold() -> None:
        try:
            with store.transaction() as tx:
                tx.execute("INSERT INTO events (ts, kind, message) VALUES (1, 'note', 'held')")
                all_in.wait(timeout=15)         # every thread is inside a transaction at the same moment
        except BaseException as e:              # a BrokenBarrierError: some thread never got a connection
            failures.append(e)

    threads = [threading.Thread(target=hold) for _ in range(25)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == [] and len(store.events()) == 25
    finally:
        store.close()


def test_a_lost_write_is_reported_not_silent(store):
    store.record_attempts([{"request_id": None, "ts": 1, "provider": "p", "attempt": 1, "outcome": "ok"}])
    store.flush()
    assert store.write_errors and re.search(r"not.null", store.write_errors[0], re.IGNORECASE)


def test_a_row_that_is_not_a_usage_row_is_reported_and_the_rest_of_its_batch_written(store):
    store.record_attempts([row(1), {"ts": 1, "provider": "p"}, "not a row", row(2)], wait=True)
    assert store.usage_count() == 2
    assert len(store.write_errors) == 2 and all(e.endswith("(1 row)") for e in store.write_errors)


def test_stream_ends_complete_their_started_rows_in_place_and_an_end_without_a_start_is_inserted(store):
    def attempt(request_id: str, outcome: str, **extra) -> UsageRow:
        return UsageRow(request_id=request_id, ts=1.0, provider="p", attempt=1, outcome=outcome, streamed=True,
                        **extra)

    store.record_attempts([attempt(f"early{i}", "started") for i in range(30)], wait=True)
    before = {r["request_id"]: r["id"] for r in store.usage_rows()}
    store.record_attempts([
        attempt("same-batch", "started"),          # started and ended in one writer batch
        *(attempt(f"early{i}", "ok", latency_ms=float(i)) for i in range(30)),
        attempt("same-batch", "timeout", error="timed out"),
        attempt("never-started", "ok", latency_ms=7.0),    # its start row was lost: the end is inserted
        row(1),                                              # a plain attempt in the same batch
    ], wait=True)
    rows = {r["request_id"]: r for r in store.usage_rows()}
    assert store.write_errors == [] and len(rows) == store.usage_count() == 33     # one row per attempt
    assert all(rows[f"early{i}"]["id"] == before[f"early{i}"] and rows[f"early{i}"]["outcome"] == "ok"
               and rows[f"early{i}"]["latency_ms"] == i for i in range(30))
    assert rows["same-batch"]["outcome"] == "timeout" and rows["same-batch"]["error"] == "timed out"
    assert rows["never-started"]["outcome"] == "ok" and rows["never-started"]["latency_ms"] == 7.0
    assert rows["r1"]["outcome"] == "ok" and not rows["r1"]["streamed"]


def test_rowcounts_says_how_many_rows_each_run_of_a_statement_changed(pg_schema_url):
    """PostgreSQL's writer completes a batch of stream ends in one pipelined round trip, and still needs
    to know which ends found their start row."""
    store = Store(pg_schema_url)
    try:
        store.record_attempts([row(1), row(2), row(2)], wait=True)
        with store._pg.transaction() as tx:
            counts = tx.rowcounts("UPDATE usage SET outcome = ? WHERE request_id = ?",
                                  [("timeout", "r1"), ("timeout", "r9"), ("timeout", "r2")])
            assert tx.rowcounts("UPDATE usage SET outcome = ? WHERE request_id = ?", []) == []
        assert counts == [1, 0, 2]
        assert [r["outcome"] for r in store.usage_rows()] == ["timeout"] * 3
    finally:
        store.close()
        store.close_connections()


def test_usage_rows_and_dicts_go_through_the_same_writer(store):
    store.record_attempts([UsageRow(request_id="r1", ts=1.0, provider="p", attempt=1, outcome="ok"), row(2)],
                          wait=True)
    assert [r["request_id"] for r in store.usage_rows()] == ["r1", "r2"] and store.write_errors == []


def test_the_wal_shrinks_back_after_a_long_reader_let_it_grow(db_path):
    """A reader that holds a snapshot (a slow Metrics query) keeps checkpoints from restarting the WAL,
    so it grows past the limit; once the reader is gone, the next checkpoint cuts the file back."""
    import os

    from core.store import WAL_SIZE_LIMIT

    store = Store(db_path)          # SQLite's write-ahead log only
    reader = sqlite3.connect(db_path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM usage").fetchone()
    for k in range(30):
        store.record_attempts([row(k * 1000 + i, model="m", session="s" * 16, latency_ms=1.0)
                               for i in range(1000)])
        store.flush()
    grown = os.path.getsize(db_path + "-wal")
    assert grown > 2 * WAL_SIZE_LIMIT
    reader.execute("COMMIT")
    reader.close()
    for k in range(3):
        store.record_attempts([row(10**6 + k)])
        store.flush()
    assert os.path.getsize(db_path + "-wal") <= WAL_SIZE_LIMIT + 256 * 1024
    assert sqlite3.connect(db_path).execute("SELECT count(*) FROM usage").fetchone()[0] == 30_003


def test_a_store_dropped_without_close_ends_its_writer_without_an_unhandled_error(db_path):
    """The writer holds its Store weakly; rows queued after the Store is gone end the thread quietly
    (before: ReferenceError raised again from the lost-rows handler, an unhandled thread exception). The
    composition root takes over the store's at-exit close, so a store it dropped can be collected."""
    import atexit
    import gc

    unhandled = []
    previous, threading.excepthook = threading.excepthook, unhandled.append
    try:
        store = Store(db_path)
        atexit.unregister(store.close)                  # as ServiceRoot does
        store.record_attempts([row(1)], wait=True)
        writer = store._writer
        del store
        gc.collect()
        writer.put(row(2))
        writer.wake.set()
        writer.join(5)
        assert not writer.is_alive()
        assert unhandled == []
    finally:
        threading.excepthook = previous
