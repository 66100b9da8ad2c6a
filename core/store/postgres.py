"""The PostgreSQL backend: a psycopg 3 connection pool behind the same `execute` / `transaction` the SQLite
backend offers, and the translation of the store's SQL, which is written once in SQLite's spelling.

    pg = PostgresConnections("postgresql://app:secret@db.internal:5432/spaces_os")
    pg.display                                            # -> 'postgresql://app:***@db.internal:5432/spaces_os'
    with pg.transaction() as tx:
        tx.execute("UPDATE tasks SET status = ? WHERE id = ?", ("paused", "t1")).rowcount
    pg.execute("SELECT count(*) FROM usage").fetchone()   # -> (0,)

Every dialect difference lives in `translate` (statements) and `BoolAsInt` (parameters):

    ?                        -> %s       (and a literal % -> %%)
    INDEXED BY <index>       -> dropped  (SQLite's planner hint; PostgreSQL's planner picks its own)
    rowid                    -> id       (tie-breaks in ORDER BY; every table has an `id` key)
    INTEGER PRIMARY KEY      -> BIGSERIAL PRIMARY KEY
    REAL                     -> DOUBLE PRECISION   (PostgreSQL's REAL is 4 bytes: unix seconds would lose
                                                    their fraction)
    a Python bool parameter  -> 0 / 1    (the flag columns are INTEGER, as on SQLite)

Reads run on a pooled connection in autocommit; a transaction holds one connection until COMMIT. The pool
opens `min_size` connections at start and grows to `max_size` (SPACES_OS_DB_POOL, default 30) under load.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.adapt import Dumper
from psycopg.pq import Format
from psycopg_pool import ConnectionPool

from core.errors import ConfigError

MIGRATION_LOCK = 0x5350_4F53      # pg_advisory_xact_lock key of the migrations: 'SPOS'
POOL_TIMEOUT_S = 30.0
# Connections one process may open. Each script, manager and writer thread holds one per statement, and
# under load holds it longer while it waits for the GIL: at 10, 50 sessions waited for a connection on 90 %
# of checkouts (bench/README.md, load on PostgreSQL). Replicas × this must stay under max_connections.
DEFAULT_POOL_SIZE = 30

_INDEXED_BY = re.compile(r"\s+INDEXED\s+BY\s+\w+", re.IGNORECASE)
_ROWID = re.compile(r"\browid\b")
_SERIAL = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """The store's SQLite-spelled statement in PostgreSQL's spelling (see the module docstring)."""
    sql = _INDEXED_BY.sub("", sql)
    sql = _ROWID.sub("id", sql)
    sql = _SERIAL.sub("BIGSERIAL PRIMARY KEY", sql)
    sql = _REAL.sub("DOUBLE PRECISION", sql)
    return sql.replace("%", "%%").replace("?", "%s")


def redacted(url: str) -> str:
    """The URL with its password replaced by ***, for messages and the health line."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class BoolAsInt(Dumper):
    """True/False as the integers 1/0: the flag columns (`streamed`) are INTEGER on both backends."""

    oid = psycopg.adapters.types["int2"].oid
    format = Format.TEXT

    def dump(self, obj: bool) -> bytes:
        return b"1" if obj else b"0"


class Result:
    """A read's rows, fetched before its connection went back to the pool (sqlite3.Cursor's reading half)."""

    def __init__(self, cursor: psycopg.Cursor):
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self._rows = cursor.fetchall() if cursor.description else []
        self._at = 0

    def fetchone(self) -> tuple | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[tuple]:
        rows, self._at = self._rows[self._at:], len(self._rows)
        return rows

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())


class Transaction:
    """What `transaction()` yields: execute/executemany in the store's spelling, on one connection."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor:
        return self.conn.execute(translate(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> psycopg.Cursor:
        cursor = self.conn.cursor()
        cursor.executemany(translate(sql), rows)
        return cursor

    def rowcounts(self, sql: str, rows: Sequence[Sequence[Any]]) -> list[int]:
        """Run `sql` once per parameter row and say how many rows each run changed, in one pipelined round
        trip (a loop of execute() pays one per row, and under load each one waits for the GIL again)."""
        if not rows:
            return []
        cursor = self.conn.cursor()
        cursor.executemany(translate(sql), rows, returning=True)
        counts = [cursor.rowcount]
        while cursor.nextset():
            counts.append(cursor.rowcount)
        return counts


def _configure(conn: psycopg.Connection) -> None:
    conn.adapters.register_dumper(bool, BoolAsInt)


def pool_size(env: Mapping[str, str]) -> int:
    """SPACES_OS_DB_POOL as a whole number of connections (default DEFAULT_POOL_SIZE), or a ConfigError
    that says what to write, before any connection is tried."""
    raw = (env.get("SPACES_OS_DB_POOL") or "").strip()
    if not raw:
        return DEFAULT_POOL_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ConfigError(f"SPACES_OS_DB_POOL must be a whole number of connections from 1 to 1000, not "
                          f"{raw[:40]!r}. Unset it for the default ({DEFAULT_POOL_SIZE}).",
                          source="environment")
    return int(raw)


class PostgresConnections:
    """The pool for one database URL; what `core.store.connection.Connections` delegates to. `close()` closes
    the pool; used again afterwards (a task checkpointing during shutdown), it opens a new one."""

    def __init__(self, url: str, *, max_size: int | None = None):
        self.display = redacted(url)
        self._url = url
        self._max_size = max_size or pool_size(os.environ)
        self._lock = threading.Lock()
        self.pool = self._open_pool()

    def _open_pool(self) -> ConnectionPool:
        pool = ConnectionPool(self._url, min_size=1, max_size=self._max_size, timeout=POOL_TIMEOUT_S,
                              kwargs={"autocommit": True}, configure=_configure, open=False, name="spaces-os-store")
        pool.open(wait=True, timeout=POOL_TIMEOUT_S)
        return pool

    def _connection(self, timeout: float | None = None) -> AbstractContextManager[psycopg.Connection]:
        if self.pool.closed:
            with self._lock:
                if self.pool.closed:
                    self.pool = self._open_pool()
        return self.pool.connection(timeout=timeout)

    def execute(self, sql: str, params: Sequence[Any] = (), *, timeout: float | None = None) -> Result:
        """One statement on a pooled connection; `timeout`: seconds to wait for one (default POOL_TIMEOUT_S)."""
        with self._connection(timeout) as conn:
            return Result(conn.execute(translate(sql), tuple(params)))

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._connection() as conn, conn.transaction():
            yield Transaction(conn)

    @contextmanager
    def exclusive(self) -> Iterator[Transaction]:
        """A transaction that waits for every other process's (the migrations run in one at a time)."""
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
            yield tx

    def columns(self, table: str) -> list[str]:
        rows = self.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                            "AND table_schema = current_schema() ORDER BY ordinal_position", (table,)).fetchall()
        return [r[0] for r in rows]

    def clock(self) -> float:
        """The server's unix time: the one clock every replica's leases are compared against."""
        return float(self.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self.pool.close()
