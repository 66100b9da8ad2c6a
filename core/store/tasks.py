"""The `tasks` table: the manager's tasks, their status and their checkpoint, so a paused or interrupted
task resumes where it stopped.

    task = store.create_task(prompt="Summarise this", session="abc", label="COMPLEX", reasons=["long"])
    store.update_task(task["id"], status="running", expect_status=["queued"])    # -> True
    store.update_task(task["id"], status="running", expect_status=["queued"])    # -> False: not queued now
    store.get_task(task["id"])["reasons"]                                        # -> ['long']

`reasons` (a list) and `checkpoint` (a dict) are stored as JSON and decoded on the way out. Times are
unix seconds.

Leases: one manager owns a queued or running task (`owner`, `lease_until`); only it writes the task while
it runs, and another takes over only an expired lease (its process died):

    store.claim_task(task["id"], owner="host:123:ab12", lease_s=10)            # queued → running, owned
    store.update_task(task["id"], result="…", expect_owner="host:123:ab12")    # False once the lease is lost
    store.renew_leases("host:123:ab12", [task["id"]], lease_s=10)              # the heartbeat
    store.expired_tasks(("running",))                                          # what recovery may take over

Every lease change is one conditional UPDATE (compare-and-set), so two processes never both win. Lease
times come from `clock()`: this process's on SQLite, the server's on PostgreSQL, so replicas on machines
whose clocks differ agree on when a lease ran out. On PostgreSQL `claim_next_task` first locks its row with
`FOR UPDATE SKIP LOCKED`, so replicas racing for the queue each get a different task instead of queueing
behind one row lock:

    store.claim_next_task(owner="host:456:cd34", lease_s=10, sessions=["<hash>"])   # -> the id it now runs

`key_source` (shared | byok | demo) says whose keys a task's provider calls use: a replica takes a queued
task on a visitor's own keys (byok) only when it holds that session's keys (`sessions`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

TASK_COLUMNS = (
    "session", "prompt", "label", "confidence", "reasons", "provider", "model", "status", "checkpoint",
    "result", "error", "owner", "lease_until", "key_source", "stop_request",
)
"""The columns a caller may set; `id`, `created_at` and `updated_at` are the store's."""
_JSON = ("checkpoint", "reasons")
_QUEUE_ORDER = (
    "CASE WHEN label IN ('QUICK', 'URGENT') THEN 0 ELSE 1 END, "
    # Paused before (its events say so): its reader has waited longest. The decision log is the one
    # record of a task's pauses, so the queue reads it here rather than keep a copy in `tasks`.
    "CASE WHEN EXISTS (SELECT 1 FROM events WHERE events.task_id = tasks.id "
    "AND events.kind IN ('paused', 'interrupted', 'recovered')) THEN 0 ELSE 1 END, "
    "created_at, rowid")
"""The order replicas take queued tasks in (`claim_next_task`)."""


class TaskQueries:
    """Mixed into `core.store.Store`; uses its `execute()`, `rows()` and `transaction()`."""

    def create_task(self, *, prompt: str, session: str | None = None, status: str = "queued",
                    task_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Insert a task (a new 12-hex id unless `task_id` is given); keys outside TASK_COLUMNS are ignored."""
        now = time.time()
        row = {"id": task_id or uuid.uuid4().hex[:12], "session": session, "prompt": prompt, "status": status,
               "created_at": now, "updated_at": now}
        row.update(_encoded(fields))
        with self.transaction() as tx:
            tx.execute(f"INSERT INTO tasks ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                       tuple(row.values()))
        return self.get_task(row["id"])

    def update_task(self, task_id: str, *, expect_status: Iterable[str] | None = None,
                    expect_owner: str | None = None, **fields: Any) -> bool:
        """Update columns; with `expect_status`, only if the current status is one of them, and with
        `expect_owner`, only while that manager holds the task (compare-and-set). True if the row was
        updated. Hand-written SQL: sqlite-utils' update() has no condition."""
        values = _encoded(fields)
        values["updated_at"] = time.time()
        sql = f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} WHERE id = ?"
        params: list[Any] = [*values.values(), task_id]
        if expect_status is not None:
            allowed = list(expect_status)
            sql += f" AND status IN ({', '.join('?' for _ in allowed)})"
            params += allowed
        if expect_owner is not None:
            sql += " AND owner = ?"
            params.append(expect_owner)
        with self.transaction() as tx:
            return tx.execute(sql, params).rowcount == 1

    def claim_task(self, task_id: str, *, owner: str, lease_s: float) -> bool:
        """queued → running, owned by `owner` until now + `lease_s`; only if nobody else holds a live lease
        on it (the submitting manager, which has its keys, leases its queued tasks). True if claimed.

        One conditional UPDATE of one row: one that another transaction holds (the heartbeat renewing its
        lease) is waited for and then checked again, so the submitting manager's claim is never lost to
        a brief row lock. (`claim_next_task` skips locked rows instead: any queued row will do there.)"""
        now = self.clock()
        with self.transaction() as tx:
            return tx.execute(
                "UPDATE tasks SET status = 'running', owner = ?, lease_until = ?, updated_at = ?, stop_request = NULL "
                "WHERE id = ? AND status = 'queued' AND (owner IS NULL OR owner = ? OR lease_until < ?)",
                (owner, now + lease_s, time.time(), task_id, owner, now)).rowcount == 1

    def claim_next_task(self, *, owner: str, lease_s: float, sessions: Iterable[str] = (),
                        held: Iterable[str] = (), exclude: Iterable[str] = ()) -> str | None:
        """Claim the next queued task `owner` may run: queued → running, leased to `owner` for `lease_s`
        (as `claim_task` does for a given task). Any replica's worker may call it; two never get the same
        task, and on PostgreSQL none waits for another's row lock (`FOR UPDATE SKIP LOCKED`).

        A replica may take a task nobody holds a live lease on whose keys it has: one on shared or demo
        keys, or one of `sessions` (the sessions whose own keys it holds); and the tasks it leased itself
        and queued for its own workers (`held`, ids). QUICK and URGENT come before COMPLEX, a task that
        was paused before (resumed, interrupted, recovered) before a new one, then the oldest. `exclude`:
        ids the caller already tried. Returns the id, or None."""
        mine, ids, skip = list(sessions), list(held), list(exclude)
        now = self.clock()
        keys_here = "key_source IN ('shared', 'demo')" + (
            f" OR session IN ({', '.join('?' for _ in mine)})" if mine else "")
        own = f" OR (owner = ? AND id IN ({', '.join('?' for _ in ids)}))" if ids else ""
        where = (f"status = 'queued' AND (((owner IS NULL OR lease_until < ?) AND ({keys_here})){own})"
                 + (f" AND id NOT IN ({', '.join('?' for _ in skip)})" if skip else ""))
        params = (now, *mine, *((owner, *ids) if ids else ()), *skip)
        if not self.rows(f"SELECT id FROM tasks WHERE {where} LIMIT 1", params):
            return None         # the common idle poll: a plain read, no write lock on SQLite
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""
        with self.transaction() as tx:
            row = tx.execute(f"SELECT id FROM tasks WHERE {where} ORDER BY {_QUEUE_ORDER} LIMIT 1{lock}",
                             params).fetchone()
            if row is None:
                return None
            tx.execute("UPDATE tasks SET status = 'running', owner = ?, lease_until = ?, updated_at = ?, "
                       "stop_request = NULL WHERE id = ?", (owner, now + lease_s, time.time(), row[0]))
            return row[0]

    def request_stop(self, task_id: str, reason: str) -> bool:
        """Ask whichever replica runs this task to stop it (`paused` or `cancelled`); its heartbeat reads
        `stop_requests`. True if the task is running, so the request was written."""
        with self.transaction() as tx:
            return tx.execute("UPDATE tasks SET stop_request = ? WHERE id = ? AND status = 'running'",
                              (reason, task_id)).rowcount == 1

    def take_stop_requests(self, owner: str) -> list[tuple[str, str]]:
        """The (task id, reason) stops asked of `owner`'s running tasks, each cleared as it is taken. The
        heartbeat's every-beat poll: a plain read, and a write only when there is a request."""
        asked = self.rows("SELECT id, stop_request FROM tasks WHERE owner = ? AND status = 'running' "
                          "AND stop_request IS NOT NULL", (owner,))
        taken = []
        for row in asked:
            with self.transaction() as tx:
                if tx.execute("UPDATE tasks SET stop_request = NULL WHERE id = ? AND stop_request = ?",
                              (row["id"], row["stop_request"])).rowcount == 1:
                    taken.append((row["id"], row["stop_request"]))
        return taken

    def renew_leases(self, owner: str, task_ids: Iterable[str], *, lease_s: float) -> int:
        """Push the leases `owner` still holds on these queued or running tasks to now + `lease_s`; returns
        how many it still holds (a task taken over meanwhile is not renewed)."""
        ids = list(task_ids)
        if not ids:
            return 0
        now = self.clock()
        with self.transaction() as tx:
            return tx.execute(
                f"UPDATE tasks SET lease_until = ? WHERE owner = ? AND status IN ('queued', 'running') "
                f"AND id IN ({', '.join('?' for _ in ids)})", (now + lease_s, owner, *ids)).rowcount

    def release_leases(self, owner: str) -> int:
        """Give up every lease `owner` holds (a clean shutdown): its queued tasks become anyone's."""
        with self.transaction() as tx:
            return tx.execute("UPDATE tasks SET owner = NULL, lease_until = NULL WHERE owner = ?",
                              (owner,)).rowcount

    def expired_tasks(self, statuses: Iterable[str], *, limit: int = 10_000) -> list[dict[str, Any]]:
        """Tasks in `statuses` whose owner's lease has run out, or that nobody owns (rows from before
        leases), oldest first."""
        allowed = list(statuses)
        rows = self.rows(
            f"SELECT * FROM tasks WHERE status IN ({', '.join('?' for _ in allowed)}) "
            f"AND (lease_until IS NULL OR lease_until < ?) ORDER BY created_at, rowid LIMIT ?",
            (*allowed, self.clock(), int(limit)))
        return [_decoded(r) for r in rows]

    def take_over_task(self, task_id: str, *, status: str, from_status: str, owner: str | None,
                       lease_s: float = 0.0, **fields: Any) -> bool:
        """Move a task whose lease expired (or that nobody owns) from `from_status` to `status`, owned by
        `owner` (None: nobody) for `lease_s`; checked again inside the UPDATE, so a live owner always wins."""
        now = self.clock()
        values = _encoded(fields)
        values.update(status=status, owner=owner, lease_until=now + lease_s if owner else None,
                      updated_at=time.time())
        with self.transaction() as tx:
            return tx.execute(
                f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} "
                f"WHERE id = ? AND status = ? AND (lease_until IS NULL OR lease_until < ?)",
                (*values.values(), task_id, from_status, now)).rowcount == 1

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        rows = self.rows("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return _decoded(rows[0]) if rows else None

    def list_tasks(self, *, session: str | None = None, statuses: Iterable[str] | None = None,
                   sessions: Iterable[str] | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; of one session (or of any of `sessions`) and/or in one of `statuses` when given;
        at most `limit`."""
        where, params = [], []
        if session is not None:
            where.append("session = ?")
            params.append(session)
        if sessions is not None:
            sessions = list(sessions) or [None]
            where.append(f"session IN ({', '.join('?' for _ in sessions)})")
            params += sessions
        if statuses is not None:
            statuses = list(statuses)
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params += statuses
        sql = "SELECT * FROM tasks" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self.rows(f"{sql} ORDER BY created_at DESC, rowid DESC LIMIT ?", (*params, int(limit)))
        return [_decoded(r) for r in rows]


def _encoded(fields: dict[str, Any]) -> dict[str, Any]:
    """The settable columns among `fields`, with the JSON ones dumped (a str is taken as JSON already)."""
    return {k: json.dumps(v) if k in _JSON and v is not None and not isinstance(v, str) else v
            for k, v in fields.items() if k in TASK_COLUMNS}


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON:
        if row.get(key):
            with suppress(ValueError):
                row[key] = json.loads(row[key])
    return row
