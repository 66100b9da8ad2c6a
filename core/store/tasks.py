"""The `tasks` table: the manager's tasks, their status and their checkpoint, so a paused or interrupted
task resumes where it stopped.

    task = store.create_task(prompt="Summarise this", session="abc", label="COMPLEX", reasons=["long"])
    store.update_task(task["id"], status="running", expect_status=["queued"])    # -> True
    store.update_task(task["id"], status="running", expect_status=["queued"])    # -> False: not queued now
    store.get_task(task["id"])["reasons"]                                        # -> ['long']

`reasons` (a list) and `checkpoint` (a dict) are stored as JSON and decoded on the way out. Times are
unix seconds.
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
    "result", "error",
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
                    **fields: Any) -> bool:
        """Update columns; with `expect_status`, only if the current status is one of them (compare-and-set).
        True if the row was updated. Hand-written SQL: sqlite-utils' update() has no condition."""
        values = _encoded(fields)
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
