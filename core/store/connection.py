"""Where the database lives, connections, and write transactions, for both backends.

    conns = Connections("data/spaces_os.db")           # or "postgresql://user@host:5432/db"
    with conns.transaction() as tx:                    # BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an exception
        tx.execute("INSERT INTO events (ts, kind, message) VALUES (?, ?, ?)", (0.0, "note", "hi"))
    conns.execute("SELECT count(*) FROM events").fetchone()     # -> (1,)
    conns.rows("SELECT kind FROM events")                        # -> [{'kind': 'note'}]

The store's SQL is written once, in SQLite's spelling with `?` placeholders. A `SPACES_OS_DB` that is a
`postgresql://` URL selects core/store/postgres.py, which translates it (the few differences are listed
there) and draws connections from a pool. On SQLite, sqlite3 objects must not cross threads, so `db()`
hands each thread its own connection; WAL lets readers run beside the writer, and `busy_timeout` makes
concurrent writers wait instead of failing. `db()` (a sqlite_utils Database) exists on SQLite only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

DEFAULT_DB = "data/spaces_os.db"
WAL_SIZE_LIMIT = 4 * 1024 * 1024     # bytes the -wal file is cut back to after a checkpoint restarts it


def default_db_path(env: dict[str, str] | None = None, volume: str = "/data") -> str:
    """$SPACES_OS_DB, else a mounted volume on a hosted Space (the container disk is lost on restart),
    else data/spaces_os.db."""
    env = os.environ if env is None else env
    if env.get("SPACES_OS_DB"):
        return env["SPACES_OS_DB"]
    if env.get("SPACE_ID") and os.path.isdir(volume) and os.access(volume, os.W_OK):
        return os.path.join(volume, "spaces_os.db")
    return DEFAULT_DB


def is_postgres_url(path: str | os.PathLike | None) -> bool:
    """True for a `postgresql://` (or `postgres://`) URL in SPACES_OS_DB."""
    return str(path or "").startswith(("postgresql://", "postgres://"))


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (callers BEGIN themselves), with this project's pragmas."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("pragma busy_timeout = 30000")
    conn.execute("pragma foreign_keys = ON")
    conn.execute("pragma synchronous = NORMAL")
    # A reader that stays open (a Metrics page mid-query) stops checkpoints from restarting the
    # WAL, which then grows; once they can restart it, shrink the file back to this size.
    conn.execute(f"pragma journal_size_limit = {WAL_SIZE_LIMIT}")
    return conn


def use_wal(conn: sqlite3.Connection, patience: float = 30.0) -> None:
    """Put the file in WAL mode (persistent in the file), retrying while another process holds it.

    Two processes opening a new file at once can both hold a shared lock and want the exclusive one the
    switch needs; SQLite then fails one of them at once with "database is locked", without waiting
    for busy_timeout, so the wait is ours."""
    deadline = time.monotonic() + patience
    while True:
        try:
            if conn.execute("pragma journal_mode").fetchone()[0] != "wal":
                conn.execute("pragma journal_mode = wal")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so no half-written rows and no
    SQLITE_BUSY when a read inside the transaction is followed by a write."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:     # SQLITE_FULL and some I/O errors have rolled it back already
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


@contextmanager
def exclusive(conn: Any) -> Iterator[Any]:
    """A transaction that one process at a time may be in (the migrations): BEGIN IMMEDIATE on SQLite,
    an advisory lock on PostgreSQL (core/store/postgres.py)."""
    if isinstance(conn, sqlite3.Connection):
        with immediate(conn) as tx:
            yield tx
    else:
        with conn.exclusive() as tx:
            yield tx


class Connections:
    """The base of `core.store.Store`: where the database is, and the SQL entry points both backends share.

    `path` is the SQLite file, or the PostgreSQL URL without its password (it appears in messages)."""

    dialect = "sqlite"

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = str(path or default_db_path())
        self._local = threading.local()
        self._pg = None
        if is_postgres_url(self.path):
            from core.store.postgres import PostgresConnections  # psycopg is needed only then

            self._pg = PostgresConnections(self.path)
            self.path = self._pg.display
            self.dialect = "postgresql"
            return
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        use_wal(self.db().conn)

    def db(self) -> Database:
        """This thread's SQLite connection (created on first use); SQLite only."""
        db = getattr(self._local, "db", None)
        if db is None:
            if self._pg is not None:
                raise TypeError("db() is SQLite's; on PostgreSQL use execute(), rows() and transaction()")
            db = Database(connect(self.path))
            self._local.db = db
        return db

    def transaction(self) -> AbstractContextManager[Any]:
        """A write transaction; `tx.execute(sql, params)` inside it returns a cursor (`rowcount`, `fetchone`)."""
        if self._pg is not None:
            return self._pg.transaction()
        return immediate(self.db().conn)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one read outside a transaction; the result has fetchone(), fetchall(), description."""
        if self._pg is not None:
            return self._pg.execute(sql, params)
        return self.db().conn.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A read's rows as dicts keyed by column name."""
        cursor = self.execute(sql, params)
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def columns(self, table: str) -> list[str]:
        """The columns of `table`, in order."""
        if self._pg is not None:
            return self._pg.columns(table)
        return [r[1] for r in self.db().conn.execute(f"PRAGMA table_info({table})")]

    def clock(self) -> float:
        """Unix seconds for leases: this process's clock on SQLite (one machine), the server's on PostgreSQL,
        so replicas whose clocks drift still agree on when a lease has run out."""
        if self._pg is not None:
            return self._pg.clock()
        return time.time()

    def _migration_conn(self) -> Any:
        return self._pg if self._pg is not None else self.db().conn

    def close_connections(self) -> None:
        """Close the PostgreSQL pool (tests, shutdown); a no-op on SQLite, whose connections close with their threads."""
        if self._pg is not None:
            self._pg.close()
