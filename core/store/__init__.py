"""The SQLite store: the only place in Spaces OS that knows SQL.

One connection per thread (sqlite3 objects must not cross threads), WAL so readers never block the
writer, `busy_timeout` so concurrent writers wait instead of failing, and versioned migrations
applied at start. Usage rows are written by a background writer so the router's hot path only
enqueues; `flush()` waits for them and a clean shutdown drains the queue.

    store = Store("data/spaces_os.db")
    store.record_attempts([...]); store.flush()
    store.usage_rows(request_id="r1")
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from core.store.event_kinds import EventKind
from core.store.metrics import MetricsQueries
from core.store.schema import MIGRATIONS
from core.store.workflows import WorkflowQueries

DEFAULT_DB = "data/spaces_os.db"
USAGE_COLUMNS = (
    "request_id", "ts", "session", "task_id", "provider", "model", "key_source", "attempt", "outcome",
    "http_status", "latency_ms", "ttft_ms", "tokens_in", "tokens_out", "cost_usd", "cost_source", "label",
    "streamed", "error",
)
TASK_COLUMNS = (
    "session", "prompt", "label", "confidence", "reasons", "provider", "model", "status", "checkpoint",
    "result", "error",
)
_STREAMED = USAGE_COLUMNS.index("streamed")
USAGE_LINGER = 0.1     # seconds the writer gathers rows before a transaction
WAL_SIZE_LIMIT = 4 * 1024 * 1024     # bytes the -wal file is cut back to after a checkpoint restarts it
_INSERT_USAGE = (f"INSERT INTO usage ({', '.join(USAGE_COLUMNS)}) "
                 f"VALUES ({', '.join('?' for _ in USAGE_COLUMNS)})")


def default_db_path(env: dict[str, str] | None = None, volume: str = "/data") -> str:
    """$SPACES_OS_DB, else a mounted volume on a hosted Space (the container disk is lost on restart),
    else data/spaces_os.db."""
    env = os.environ if env is None else env
    if env.get("SPACES_OS_DB"):
        return env["SPACES_OS_DB"]
    if env.get("SPACE_ID") and os.path.isdir(volume) and os.access(volume, os.W_OK):
        return os.path.join(volume, "spaces_os.db")
    return DEFAULT_DB


class _Marker:
    """Placed in the row stream by flush() and close(): set once every row before it is written."""

    def __init__(self, stop: bool = False):
        self.done = threading.Event()
        self.stop = stop


class _UsageWriter(threading.Thread):
    """Writes queued usage rows in batches; a row is visible to readers within about `linger` seconds.

    The request path only appends to a deque (no lock, no wake-up): the writer wakes every `linger`
    seconds, or at once for flush()/close(), and writes what has gathered in one transaction."""

    def __init__(self, store: Store, linger: float = USAGE_LINGER):
        super().__init__(name="usage-writer", daemon=True)
        self._store = weakref.proxy(store)
        self.rows: collections.deque = collections.deque()
        self.errors = store._write_errors
        self.linger = linger
        self.wake = threading.Event()
        self.running = True              # cheaper than is_alive() on every queued row

    def put(self, row: dict[str, Any]) -> None:
        self.rows.append(row)

    def run(self) -> None:
        try:
            while self._write_batch():
                self.wake.wait(self.linger or None)
                self.wake.clear()
        finally:
            self.running = False        # new rows now start a new writer...
            while self._write_batch() is False or self.rows:
                pass                    # ...and rows that raced the stop are still written here

    def _write_batch(self) -> bool:
        """Write what is queued; False once a stop marker is reached."""
        while self.rows:
            batch, markers = [], []
            while self.rows and len(batch) < 1000:
                item = self.rows.popleft()
                if isinstance(item, _Marker):
                    markers.append(item)
                    break                      # rows after a marker belong to the next batch
                try:
                    batch.append(_usage_tuple(item))
                except Exception as e:   # not a row dict: report it, keep the writer alive
                    self.errors.append(f"{type(e).__name__}: {e} (1 row)")
            if batch:
                try:
                    self._store._insert_usage(batch)
                except Exception as e:  # a lost write must be visible, not silent
                    self.errors.append(f"{type(e).__name__}: {e} ({len(batch)} rows)")
            for marker in markers:
                marker.done.set()
                if marker.stop:
                    return False
        return True


class Store(MetricsQueries, WorkflowQueries):
    def __init__(self, path: str | os.PathLike | None = None):
        self.path = str(path or default_db_path())
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._writer: _UsageWriter | None = None
        self._writer_lock = threading.Lock()
        self._write_errors: list[str] = []
        self._migrate()
        atexit.register(self.close)

    # ------------------------------------------------------------ connections and schema

    def db(self) -> Database:
        """This thread's connection (created on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # we BEGIN ourselves
            conn.execute("pragma busy_timeout = 30000")
            conn.execute("pragma foreign_keys = ON")
            conn.execute("pragma synchronous = NORMAL")
            # A reader that stays open (a Metrics page mid-query) stops checkpoints from restarting the
            # WAL, which then grows; once they can restart it, shrink the file back to this size.
            conn.execute(f"pragma journal_size_limit = {WAL_SIZE_LIMIT}")
            db = Database(conn)
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so no half-written rows."""
        conn = self.db().conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _migrate(self) -> None:
        conn = self.db().conn
        conn.execute("pragma journal_mode = wal")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL)")
        conn.commit()
        with self.transaction() as tx:
            row = tx.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            for version, migration in enumerate(MIGRATIONS, start=1):
                if version > current:
                    migration(tx)
                    tx.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))

    def schema_version(self) -> int:
        return self.db().conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0

    # ------------------------------------------------------------ usage

    def record_attempts(self, rows: Iterable[dict[str, Any]], *, wait: bool = False) -> None:
        """Queue usage rows (one per provider attempt) for the background writer, which also turns
        them into tuples (off the request thread). The dicts are not copied: don't change them later."""
        put = self._ensure_writer().put
        for row in rows:
            put(row)
        if wait:
            self.flush()

    def _ensure_writer(self) -> _UsageWriter:
        writer = self._writer
        if writer is not None and writer.running:
            return writer
        if self._writer is None or not self._writer.is_alive():
            with self._writer_lock:
                if self._writer is None or not self._writer.is_alive():
                    self._writer = _UsageWriter(self)
                    self._writer.start()
        return self._writer

    def _insert_usage(self, batch: list[tuple]) -> None:
        with self.transaction() as tx:
            tx.executemany(_INSERT_USAGE, batch)

    def flush(self) -> None:
        """Block until every usage row queued so far is written."""
        writer = self._writer
        if writer is not None and writer.is_alive():
            marker = _Marker()
            writer.put(marker)
            writer.wake.set()
            while not marker.done.wait(0.5):
                if not writer.is_alive():
                    break

    @property
    def write_errors(self) -> list[str]:
        return list(self._write_errors)

    def close(self) -> None:
        """Write what is queued and stop the writer (also runs at interpreter exit)."""
        writer = self._writer
        if writer is not None and writer.is_alive():
            writer.put(_Marker(stop=True))
            writer.wake.set()
            writer.join(timeout=10)
        self._writer = None

    def usage_rows(self, *, request_id: str | None = None, task_id: str | None = None,
                   limit: int = 1000) -> list[dict[str, Any]]:
        where, params = [], []
        if request_id:
            where.append("request_id = ?")
            params.append(request_id)
        if task_id:
            where.append("task_id = ?")
            params.append(task_id)
        sql = "SELECT * FROM usage" + (f" WHERE {' AND '.join(where)}" if where else "")
        return list(self.db().query(sql + " ORDER BY id LIMIT ?", [*params, limit]))

    def recent_provider_latency(self, since: float) -> dict[str, float]:
        """Median latency (ms) of successful attempts per provider since `since`; for URGENT routing."""
        out = {}
        conn = self.db().conn
        for provider, n in conn.execute("SELECT provider, count(*) FROM usage INDEXED BY idx_usage_ts "
                                        "WHERE ts >= ? AND outcome = 'ok' GROUP BY provider", (since,)).fetchall():
            row = conn.execute("SELECT latency_ms FROM usage INDEXED BY idx_usage_ts WHERE ts >= ? AND provider = ? "
                               "AND outcome = 'ok' ORDER BY latency_ms LIMIT 1 OFFSET ?",
                               (since, provider, n // 2)).fetchone()
            out[provider] = row[0]
        return out

    def shared_spend(self, session: str, *, minute_since: float, day_since: float) -> dict[str, Any]:
        """A visitor's use of the shared keys: requests in the last minute, tokens and USD in the last day."""
        conn = self.db().conn
        minute = conn.execute("SELECT count(DISTINCT request_id) FROM usage WHERE session = ? AND ts >= ? "
                              "AND key_source = 'shared'", (session, minute_since)).fetchone()[0]
        tokens, usd = conn.execute("SELECT coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0), "
                                   "coalesce(sum(cost_usd), 0) FROM usage WHERE session = ? AND ts >= ? "
                                   "AND key_source = 'shared'", (session, day_since)).fetchone()
        return {"requests_last_minute": minute, "tokens_today": tokens, "usd_today": usd}

    # ------------------------------------------------------------ audit log

    def record_audit(self, kind: str, *, session: str | None = None, detail: str | None = None) -> None:
        """Key set or cleared (never the key), Space created or deleted, budget exceeded."""
        with self.transaction() as tx:
            tx.execute("INSERT INTO audit (ts, session, kind, detail) VALUES (?, ?, ?, ?)",
                       (time.time(), session, kind, detail))

    def audit(self, *, kinds: Iterable[str] | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM audit", []
        if kinds:
            kinds = list(kinds)
            sql += f" WHERE kind IN ({', '.join('?' for _ in kinds)})"
            params += kinds
        return list(self.db().query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]))

    def usage_count(self) -> int:
        return self.db().conn.execute("SELECT count(*) FROM usage").fetchone()[0]

    def bulk_insert_usage(self, rows: Iterable[dict[str, Any]], batch_size: int = 5000) -> None:
        """Synchronous bulk load (benchmarks, imports)."""
        batch: list[tuple] = []
        for row in rows:
            batch.append(_usage_tuple(row))
            if len(batch) >= batch_size:
                self._insert_usage(batch)
                batch = []
        if batch:
            self._insert_usage(batch)

    # ------------------------------------------------------------ tasks

    def create_task(self, *, prompt: str, session: str | None = None, status: str = "queued",
                    task_id: str | None = None, **fields: Any) -> dict[str, Any]:
        now = time.time()
        row = {"id": task_id or uuid.uuid4().hex[:12], "session": session, "prompt": prompt, "status": status,
               "created_at": now, "updated_at": now}
        row.update({k: _json_field(k, v) for k, v in fields.items() if k in TASK_COLUMNS})
        cols = list(row)
        with self.transaction() as tx:
            tx.execute(f"INSERT INTO tasks ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
                       [row[c] for c in cols])
        return self.get_task(row["id"])

    def update_task(self, task_id: str, *, expect_status: Iterable[str] | None = None,
                    **fields: Any) -> bool:
        """Update columns; with `expect_status`, only if the current status is one of them (compare-and-set)."""
        values = {k: _json_field(k, v) for k, v in fields.items() if k in TASK_COLUMNS}
        values["updated_at"] = time.time()
        sql = f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?"
        params: list[Any] = [*values.values(), task_id]
        if expect_status is not None:
            allowed = list(expect_status)
            sql += f" AND status IN ({', '.join('?' for _ in allowed)})"
            params += allowed
        with self.transaction() as tx:
            return tx.execute(sql, params).rowcount == 1

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        rows = list(self.db().query("SELECT * FROM tasks WHERE id = ?", [task_id]))
        return _decode_task(rows[0]) if rows else None

    def list_tasks(self, *, session: str | None = None, statuses: Iterable[str] | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        where, params = [], []
        if session is not None:
            where.append("session = ?")
            params.append(session)
        if statuses is not None:
            statuses = list(statuses)
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params += statuses
        sql = "SELECT * FROM tasks" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self.db().query(sql + " ORDER BY created_at DESC, rowid DESC LIMIT ?", [*params, limit])
        return [_decode_task(r) for r in rows]

    # ------------------------------------------------------------ events (decision log)

    def log_event(self, kind: EventKind, message: str, *, task_id: str | None = None,
                  data: dict[str, Any] | None = None) -> int:
        kind = EventKind(kind)      # an unknown kind is refused here, so the Routing filter can list them all
        with self.transaction() as tx:
            cur = tx.execute("INSERT INTO events (ts, task_id, kind, message, data) VALUES (?, ?, ?, ?, ?)",
                             (time.time(), task_id, kind, message, json.dumps(data or {}, default=str)))
            return cur.lastrowid

    def events(self, *, task_id: str | None = None, kinds: Iterable[str] | None = None,
               since: float | None = None, limit: int = 500) -> list[dict[str, Any]]:
        where, params = [], []
        if task_id:
            where.append("task_id = ?")
            params.append(task_id)
        if kinds:
            kinds = list(kinds)
            where.append(f"kind IN ({', '.join('?' for _ in kinds)})")
            params += kinds
        if since is not None:
            where.append("ts >= ?")
            params.append(since)
        sql = "SELECT * FROM events" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = list(self.db().query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]))
        for r in rows:
            r["data"] = json.loads(r["data"]) if r["data"] else {}
        return rows[::-1]

    # ------------------------------------------------------------ space actions

    def record_space_action(self, *, session: str | None, space_id: str | None, action: str, outcome: str,
                            detail: str | None = None) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT INTO space_actions (ts, session, space_id, action, outcome, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (time.time(), session, space_id, action, outcome, detail))

    def space_actions(self, *, session: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM space_actions", []
        if session is not None:
            sql += " WHERE session = ?"
            params.append(session)
        return list(self.db().query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit]))


def _usage_tuple(row: dict[str, Any]) -> tuple:
    values = list(map(row.get, USAGE_COLUMNS))
    values[_STREAMED] = int(bool(values[_STREAMED]))
    return tuple(values)


def _json_field(key: str, value: Any) -> Any:
    if key in ("checkpoint", "reasons") and value is not None and not isinstance(value, str):
        return json.dumps(value)
    return value


def _decode_task(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("checkpoint", "reasons"):
        if row.get(key):
            with suppress(ValueError):
                row[key] = json.loads(row[key])
    return row
