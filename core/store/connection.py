"""Where the database file lives, one connection per thread, and write transactions.

    conns = Connections("data/spaces_os.db")
    with conns.transaction() as tx:            # BEGIN IMMEDIATE … COMMIT, or ROLLBACK on an exception
        tx.execute("INSERT INTO events (ts, kind, message) VALUES (?, ?, ?)", (0.0, "note", "hi"))
    conns.db()["events"].count                 # this thread's sqlite_utils.Database

sqlite3 objects must not cross threads, so `db()` hands each thread its own connection. WAL lets readers
run beside the writer, and `busy_timeout` makes concurrent writers wait instead of failing.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

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


class Connections:
    """The base of `core.store.Store`: the file path and this thread's connection."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = str(path or default_db_path())
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.db().conn.execute("pragma journal_mode = wal")      # persistent in the file

    def db(self) -> Database:
        """This thread's connection (created on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = Database(connect(self.path))
            self._local.db = db
        return db

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction on this thread's connection; sqlite-utils calls inside it use savepoints."""
        return immediate(self.db().conn)
