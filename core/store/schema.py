"""Versioned migrations. Each entry runs once, in order, inside one transaction; never edit a shipped one.

    from core.store.connection import connect
    conn = connect("data/spaces_os.db")
    migrate(conn)                  # brings any older file up to len(MIGRATIONS); a no-op when current
    schema_version(conn)           # -> 8

Each table has one owner module, the only code that writes its rows:

    schema_version                  core/store/schema.py (here)
    usage                           core/store/usage.py (rows queued by core/store/writer.py)
    tasks                           core/store/tasks.py
    events                          core/store/events.py
    audit, space_actions            core/store/audit.py
    workflow_runs, workflow_steps   core/store/workflows.py
    access_tokens                   core/store/access_tokens.py
    admissions                      core/store/admissions.py
core/store/metrics.py only reads `usage`, through the covering indexes of `_v2`.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Callable

from core.store.connection import exclusive


def _run(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one: executescript() would commit the surrounding transaction."""
    without_comments = re.sub(r"--[^\n]*", "", script)      # a ';' in a comment must not split a statement
    for statement in without_comments.split(";"):
        if statement.strip():
            conn.execute(statement)


def _v1(conn: sqlite3.Connection) -> None:
    _run(conn,
        """
        CREATE TABLE usage (
            id INTEGER PRIMARY KEY,
            request_id TEXT NOT NULL,
            ts REAL NOT NULL,                 -- unix seconds
            session TEXT,                     -- hash, never the raw id
            task_id TEXT,
            provider TEXT NOT NULL,
            model TEXT,
            key_source TEXT,                  -- byok | shared | demo | none
            attempt INTEGER NOT NULL,
            outcome TEXT NOT NULL,            -- ok | rate_limited | auth | ... | cooldown_skip
            http_status INTEGER,
            latency_ms REAL,
            ttft_ms REAL,
            tokens_in INTEGER,
            tokens_out INTEGER,
            cost_usd REAL,
            cost_source TEXT,                 -- provider | price_table | unknown
            label TEXT,                       -- QUICK | COMPLEX | URGENT when the manager routed it
            streamed INTEGER NOT NULL DEFAULT 0,
            error TEXT                        -- redacted
        );
        CREATE INDEX idx_usage_ts ON usage (ts);
        CREATE INDEX idx_usage_request_id ON usage (request_id);
        CREATE INDEX idx_usage_provider_model_latency_ms ON usage (provider, model, latency_ms);

        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            session TEXT,
            prompt TEXT NOT NULL,
            label TEXT,
            confidence REAL,
            reasons TEXT,                     -- JSON list
            provider TEXT,
            model TEXT,
            status TEXT NOT NULL,             -- queued | running | paused | done | failed | cancelled
            checkpoint TEXT,                  -- JSON {partial_text, messages, provider, model}
            result TEXT,
            error TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        );
        CREATE INDEX idx_tasks_session_status ON tasks (session, status);
        CREATE INDEX idx_tasks_updated_at ON tasks (updated_at);

        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            task_id TEXT,
            kind TEXT NOT NULL,
            message TEXT NOT NULL,
            data TEXT                         -- JSON
        );
        CREATE INDEX idx_events_ts ON events (ts);
        CREATE INDEX idx_events_task_id ON events (task_id);

        CREATE TABLE space_actions (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            session TEXT,
            space_id TEXT,
            action TEXT NOT NULL,
            outcome TEXT NOT NULL,
            detail TEXT
        );
        CREATE INDEX idx_space_actions_ts ON space_actions (ts);
        """
    )


def _v2(conn: sqlite3.Connection) -> None:
    """Covering indexes for the Metrics page (core/store/metrics.py says which query uses which).

    Each one lets a query read only an index, in the order it groups or ranks by, instead of
    sorting the window's rows: on 1M rows a GROUP BY that needs a temp B-tree takes about 1 s,
    the same aggregate walked from an ordered covering index about 0.1 s.
    """
    _run(conn,
        """
        CREATE INDEX IF NOT EXISTS idx_usage_provider_ts_metrics ON usage
            (provider, ts, model, outcome, label, attempt, latency_ms, ttft_ms, tokens_in, tokens_out, cost_usd);
        CREATE INDEX IF NOT EXISTS idx_usage_outcome_label_provider_model_ts ON usage
            (outcome, label, provider, model, ts);
        CREATE INDEX IF NOT EXISTS idx_usage_provider_model_outcome_latency_ms_ts ON usage
            (provider, model, outcome, latency_ms, ts);
        CREATE INDEX IF NOT EXISTS idx_usage_provider_model_outcome_ttft_ms_ts ON usage
            (provider, model, outcome, ttft_ms, ts);
        CREATE INDEX IF NOT EXISTS idx_usage_failed_ts ON usage
            (ts, provider, outcome, request_id) WHERE outcome != 'ok';
        CREATE INDEX IF NOT EXISTS idx_usage_fallback_answers ON usage
            (request_id, provider, outcome, attempt) WHERE outcome = 'ok' AND attempt > 1
        """
    )


def _v3(conn: sqlite3.Connection) -> None:
    """Hosted mode: the audit log, and per-visitor spending on the shared keys."""
    _run(conn,
        """
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            session TEXT,                     -- hash
            kind TEXT NOT NULL,               -- key_set | key_cleared | space_created | space_deleted | budget_exceeded
            detail TEXT                       -- never a key
        );
        CREATE INDEX idx_audit_ts ON audit (ts);
        CREATE INDEX idx_usage_session_ts ON usage (session, ts)
        """
    )


def _v4(conn: sqlite3.Connection) -> None:
    """Workflow runs and their steps (core/build/workflow.py; the build agent is the first workflow)."""
    _run(conn,
        """
        CREATE TABLE workflow_runs (
            id TEXT PRIMARY KEY,
            workflow TEXT NOT NULL,           -- e.g. build_space
            session TEXT,                     -- hash
            status TEXT NOT NULL,             -- pending | running | done | failed | stopped | rolled_back
            inputs TEXT NOT NULL,             -- JSON, never a key
            outputs TEXT,                     -- JSON: the final report
            current_step TEXT,
            error TEXT,                       -- redacted
            created_at REAL NOT NULL,
            started_at REAL,
            updated_at REAL NOT NULL,
            finished_at REAL
        );
        CREATE INDEX idx_workflow_runs_session_created ON workflow_runs (session, created_at);

        CREATE TABLE workflow_steps (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            status TEXT NOT NULL,             -- running | done | failed | skipped | stopped
            attempts INTEGER NOT NULL DEFAULT 0,
            inputs TEXT,                      -- JSON: which earlier outputs it read, and their digest
            outputs TEXT,                     -- JSON, while running the last checkpoint
            notes TEXT,                       -- JSON list of progress lines
            error TEXT,                       -- redacted
            started_at REAL,
            finished_at REAL,
            duration_ms REAL,
            UNIQUE (run_id, name)
        );
        CREATE INDEX idx_usage_task_id ON usage (task_id) WHERE task_id IS NOT NULL
        """
    )


def _v5(conn: sqlite3.Connection) -> None:
    """v2's covering indexes serve every percentile query now; v1's (provider, model, latency_ms) index only
    cost time on every usage insert."""
    _run(conn, "DROP INDEX IF EXISTS idx_usage_provider_model_latency_ms")


def _v6(conn: sqlite3.Connection) -> None:
    """Task leases: the manager that runs (or will run) a task owns it until `lease_until`, which its heartbeat
    keeps pushing forward; recovery takes over only expired leases (core/store/tasks.py)."""
    _run(conn,
        """
        ALTER TABLE tasks ADD COLUMN owner TEXT;          -- a manager id, host:pid:random; NULL when nobody holds it
        ALTER TABLE tasks ADD COLUMN lease_until REAL;    -- unix seconds; past it, the owner is presumed dead
        CREATE INDEX idx_tasks_status_lease_until ON tasks (status, lease_until)
        """
    )


def _v7(conn: sqlite3.Connection) -> None:
    """Console access tokens for the HTTP API: a hash of each token, its scopes, providers, budget and expiry."""
    _run(conn,
        """
        CREATE TABLE access_tokens (
            id TEXT PRIMARY KEY,              -- public id, shown and used to revoke
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,  -- sha256 of the token; the token itself is never stored
            created_at REAL NOT NULL,
            expires_at REAL,
            revoked_at REAL,
            scopes TEXT NOT NULL,             -- comma-separated: chat, spaces-read, spaces-write
            providers TEXT,                   -- comma-separated; NULL: every provider
            requests_per_minute INTEGER,
            tokens_per_day INTEGER,
            usd_per_day REAL,
            last_used_at REAL
        )
        """
    )


def _v8(conn: sqlite3.Connection) -> None:
    """Replicas: a task records whose keys it runs on, so a surviving replica knows whether it may carry it on
    (shared or demo: yes; a visitor's own keys: only where that session is); and every admission on a
    budget (a visitor's or an access token's requests a minute) is one row, so the limit holds across
    processes that share the database."""
    _run(conn,
        """
        ALTER TABLE tasks ADD COLUMN key_source TEXT;     -- shared | byok | demo; NULL for tasks before v8
        CREATE TABLE admissions (
            id INTEGER PRIMARY KEY,
            subject TEXT NOT NULL,            -- a session hash, or `token:<id>`
            ts REAL NOT NULL                  -- unix seconds (the database server's clock on PostgreSQL)
        );
        CREATE INDEX idx_admissions_subject_ts ON admissions (subject, ts)
        """
    )


def _v9(conn: sqlite3.Connection) -> None:
    """Pause and Cancel from any replica: a task runs on whichever replica claimed it, so a stop asked on
    another one is written here, and the owner's heartbeat acts on it."""
    _run(conn, "ALTER TABLE tasks ADD COLUMN stop_request TEXT     -- paused | cancelled; NULL: none asked")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9]


def schema_version(conn: sqlite3.Connection) -> int:
    """The newest migration applied to this file (0 for a new file)."""
    return conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0


def migrate(conn: sqlite3.Connection, target: int | None = None) -> int:
    """Apply, in one transaction, every migration after the file's version up to `target` (default: all);
    returns the version the file is at afterwards. Safe to run from several processes at once. `conn` is a
    sqlite3 connection or core/store/postgres.py's PostgresConnections: the same migrations run on both,
    their SQLite spelling translated there."""
    target = len(MIGRATIONS) if target is None else target
    with exclusive(conn) as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL)")
        current = schema_version(tx)
        for version, migration in enumerate(MIGRATIONS[:target], start=1):
            if version > current:
                migration(tx)
                tx.execute("INSERT INTO schema_version VALUES (?, ?)", (version, time.time()))
        return schema_version(tx)
