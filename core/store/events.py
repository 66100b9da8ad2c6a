"""The `events` table: the decision log (why a task was labelled, routed, paused or resumed).

    store.log_event(EventKind.ROUTED, "QUICK → demo/quick-1", task_id="t1", data={"tier": "fast"})   # -> 1
    store.events(task_id="t1")[0]["data"]                                                 # -> {'tier': 'fast'}

`kind` is an `EventKind` (core/store/event_kinds.py); an unknown kind is refused. `events()` returns the
newest `limit` matching events, oldest first (the order they happened), with `data` decoded from JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from core.store.event_kinds import EventKind


class EventQueries:
    """Mixed into `core.store.Store`; uses its `execute()`, `rows()` and `transaction()`."""

    def log_event(self, kind: EventKind, message: str, *, task_id: str | None = None,
                  data: dict[str, Any] | None = None) -> int:
        """Append an event; returns its id (ids grow with time)."""
        kind = EventKind(kind)      # an unknown kind is refused here, so the Routing filter can list them all
        with self.transaction() as tx:
            return tx.execute("INSERT INTO events (ts, task_id, kind, message, data) VALUES (?, ?, ?, ?, ?) "
                              "RETURNING id", (time.time(), task_id, kind.value, message,
                                               json.dumps(data or {}, default=str))).fetchone()[0]

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
        rows = self.rows(f"{sql} ORDER BY id DESC LIMIT ?", (*params, int(limit)))
        for r in rows:
            r["data"] = json.loads(r["data"]) if r["data"] else {}
        return rows[::-1]
