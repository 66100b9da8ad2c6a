"""The store (SQLite, or PostgreSQL for several replicas): the only place in Spaces OS that knows SQL.

    store = Store("data/spaces_os.db")
    store.record_attempts([UsageRow(request_id="r1", ts=time.time(), provider="demo", attempt=1, outcome="ok")])
    store.flush()
    store.usage_rows(request_id="r1")

`Store` is one facade over modules that each own a table (core/store/schema.py lists them): usage,
tasks, events, audit (with space_actions), workflows, access tokens, admissions (requests-a-minute limits
across processes), and the metrics aggregates over usage. Under them,
core/store/connection.py gives each thread its own connection (WAL, `busy_timeout`), core/store/schema.py
applies the versioned migrations when a Store opens, and core/store/writer.py writes usage rows in the
background, so the router's hot path only enqueues; `flush()` waits for them and a clean shutdown
drains the queue. core/store/failures.py turns every sqlite3 error into a plain-words `StoreError` and
counts the usage rows that could not be written (`store.health()`).

`Store("postgresql://user@host/db")` (or SPACES_OS_DB set to such a URL) runs the same migrations and
the same queries on PostgreSQL through a psycopg pool (core/store/postgres.py holds every difference).
"""

from __future__ import annotations

import atexit
import os

from core.store import schema
from core.store.access_tokens import AccessTokenQueries, AccessTokenRow
from core.store.admissions import Admission, AdmissionQueries
from core.store.audit import AuditQueries
from core.store.connection import DEFAULT_DB, WAL_SIZE_LIMIT, Connections, default_db_path
from core.store.event_kinds import EventKind
from core.store.events import EventQueries
from core.store.failures import FailureLog, StoreHealth, translated
from core.store.metrics import MetricsQueries
from core.store.probe import DatabaseProbe, ProbeQueries
from core.store.schema import MIGRATIONS
from core.store.tasks import TASK_COLUMNS, TaskQueries
from core.store.usage import STARTED, USAGE_COLUMNS, UsageQueries, UsageRow
from core.store.workflows import WorkflowQueries
from core.store.writer import USAGE_LINGER, BackgroundWriting

__all__ = [
    "DEFAULT_DB", "MIGRATIONS", "AccessTokenRow", "Admission", "DatabaseProbe", "STARTED", "TASK_COLUMNS", "USAGE_COLUMNS", "USAGE_LINGER", "WAL_SIZE_LIMIT", "EventKind",
    "Store", "StoreHealth", "UsageRow", "default_db_path",
]


@translated
class Store(Connections, BackgroundWriting, FailureLog, UsageQueries, TaskQueries, EventQueries, AuditQueries,
            MetricsQueries, WorkflowQueries, AccessTokenQueries, AdmissionQueries, ProbeQueries):
    """Open (and migrate) the file or `postgresql://` URL at `path`; safe to share between threads. Raises
    `StoreError`, never sqlite3.* or psycopg.*."""

    def __init__(self, path: str | os.PathLike | None = None):
        self._init_failures()
        Connections.__init__(self, path)
        self._init_writer()
        schema.migrate(self._migration_conn())
        atexit.register(self.close)

    def schema_version(self) -> int:
        return schema.schema_version(self._migration_conn())

    def close(self) -> None:
        """Write what is queued, stop the writer and close the PostgreSQL pool (also run at exit). A store
        used again afterwards starts a new writer and, on PostgreSQL, a new pool."""
        BackgroundWriting.close(self)
        self.close_connections()
