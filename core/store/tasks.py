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

Every lease change is one conditional UPDATE (compare-and-set), so two processes never both win. On
PostgreSQL the same shape holds: a claim is `SELECT … FOR UPDATE SKIP LOCKED` over the claimable rows
followed by this UPDATE, and `lease_until` is compared with the server's clock instead of each process's.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

from sqlite_utils.db import NotFoundError

TASK_COLUMNS = (
    "session", "prompt", "label", "confidence", "reasons", "provider", "model", "status", "checkpoint",
    "result", "error", "owner", "lease_until",
)
"""The columns a caller may set; `id`, `created_at` and `updated_at` are the store's."""
_JSON = ("checkpoint", "reasons")


class TaskQueries:
    """Mixed into `core.store.Store`; uses its `db()` and `transaction()`."""

    def create_task(self, *, prompt: str, session: str | None = None, status: str = "queued",
                    task_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Insert a task (a new 12-hex id unless `task_id` is given); keys outside TASK_COLUMNS are ignored."""
        now = time.time()
        row = {"id": task_id or uuid.uuid4().hex[:12], "session": session, "prompt": prompt, "status": status,
               "created_at": now, "updated_at": now}
        row.update(_encoded(fields))
        with self.transaction():
            self.db()["tasks"].insert(row)
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
        on it (the submitting manager, which has its keys, leases its queued tasks). True if claimed."""
        now = time.time()
        with self.transaction() as tx:
            return tx.execute(
                "UPDATE tasks SET status = 'running', owner = ?, lease_until = ?, updated_at = ? "
                "WHERE id = ? AND status = 'queued' AND (owner IS NULL OR owner = ? OR lease_until < ?)",
                (owner, now + lease_s, now, task_id, owner, now)).rowcount == 1

    def renew_leases(self, owner: str, task_ids: Iterable[str], *, lease_s: float) -> int:
        """Push the leases `owner` still holds on these queued or running tasks to now + `lease_s`; returns
        how many it still holds (a task taken over meanwhile is not renewed)."""
        ids = list(task_ids)
        if not ids:
            return 0
        now = time.time()
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
        rows = self.db()["tasks"].rows_where(
            f"status IN ({', '.join('?' for _ in allowed)}) AND (lease_until IS NULL OR lease_until < ?)",
            [*allowed, time.time()], order_by="created_at, rowid", limit=int(limit))
        return [_decoded(r) for r in rows]

    def take_over_task(self, task_id: str, *, status: str, from_status: str, owner: str | None,
                       lease_s: float = 0.0, **fields: Any) -> bool:
        """Move a task whose lease expired (or that nobody owns) from `from_status` to `status`, owned by
        `owner` (None: nobody) for `lease_s`; checked again inside the UPDATE, so a live owner always wins."""
        now = time.time()
        values = _encoded(fields)
        values.update(status=status, owner=owner, lease_until=now + lease_s if owner else None, updated_at=now)
        with self.transaction() as tx:
            return tx.execute(
                f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in values)} "
                f"WHERE id = ? AND status = ? AND (lease_until IS NULL OR lease_until < ?)",
                (*values.values(), task_id, from_status, now)).rowcount == 1

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        try:
            return _decoded(self.db()["tasks"].get(task_id))
        except NotFoundError:
            return None

    def list_tasks(self, *, session: str | None = None, statuses: Iterable[str] | None = None,
                   limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; of one session and/or in one of `statuses` when given; at most `limit`."""
        where, params = [], []
        if session is not None:
            where.append("session = ?")
            params.append(session)
        if statuses is not None:
            statuses = list(statuses)
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params += statuses
        rows = self.db()["tasks"].rows_where(" AND ".join(where) or None, params,
                                             order_by="created_at DESC, rowid DESC", limit=int(limit))
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
