"""Which database this is and whether it answers: the facts behind Home's database line.

    store.probe()
    # -> DatabaseProbe(backend='PostgreSQL', where='app@db.internal:5432/spaces_os', answers=True,
    #                  latency_ms=0.4, schema_version=8, known_version=8, problem=None)

The probe is one trivial read (the schema version), timed. On PostgreSQL it waits at most `timeout` seconds
for a pooled connection, so a server that is down makes the line say so instead of holding the page for the
pool's 30 s. It never raises: a failure is the answer (`answers=False`, `problem` in plain words). The
address never carries the password (core/store/postgres.py redacts it when the store opens).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from core.errors import StoreError
from core.store.failures import store_error
from core.store.schema import MIGRATIONS

PROBE_TIMEOUT_S = 3.0
_VERSION = "SELECT max(version) FROM schema_version"


@dataclass(frozen=True, slots=True)
class DatabaseProbe:
    backend: str                    # SQLite | PostgreSQL
    where: str                      # the file's absolute path, or user@host:port/database
    answers: bool
    latency_ms: float | None        # the trivial read, when it answered
    schema_version: int | None
    known_version: int              # the newest migration this code knows
    problem: str | None = None      # why it did not answer, in plain words


class ProbeQueries:
    """Mixed into `core.store.Store`; uses its `path`, `dialect` and connections."""

    def probe(self, *, timeout: float = PROBE_TIMEOUT_S) -> DatabaseProbe:
        postgres = self.dialect == "postgresql"
        backend, where = ("PostgreSQL", _server(self.path)) if postgres else ("SQLite", os.path.abspath(self.path))
        started = time.perf_counter()
        try:
            if postgres:
                version = self._pg.execute(_VERSION, timeout=timeout).fetchone()[0]
            else:
                version = self.db().conn.execute(_VERSION).fetchone()[0]
        except Exception as e:      # any failure to answer is the answer; it is shown, never raised
            error = e if isinstance(e, StoreError) else store_error(e, where)
            return DatabaseProbe(backend, where, False, None, None, len(MIGRATIONS), str(error))
        latency = (time.perf_counter() - started) * 1000
        return DatabaseProbe(backend, where, True, latency, version or 0, len(MIGRATIONS))


def _server(display: str) -> str:
    """user@host:port/database of a (password-redacted) PostgreSQL URL: no password, no options."""
    parts = urlsplit(display)
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{user}{parts.hostname or 'localhost'}{port}{parts.path or '/'}"
