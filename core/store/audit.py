"""The `audit` and `space_actions` tables: what a session did that matters later. Never a key.

    store.record_audit("key_set", session="3f9a…", detail="openrouter")
    store.audit(kinds=["key_set", "key_cleared"])[0]["detail"]                    # -> 'openrouter'
    store.record_space_action(session="3f9a…", space_id="me/demo", action="restart", outcome="ok")
    store.space_actions(session="3f9a…")[0]["action"]                             # -> 'restart'

Both lists come newest first. Audit kinds: key_set | key_cleared | space_created | space_deleted |
budget_exceeded.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any


class AuditQueries:
    """Mixed into `core.store.Store`; uses its `execute()`, `rows()` and `transaction()`."""

    def record_audit(self, kind: str, *, session: str | None = None, detail: str | None = None) -> None:
        """Key set or cleared (never the key), Space created or deleted, budget exceeded."""
        with self.transaction() as tx:
            tx.execute("INSERT INTO audit (ts, session, kind, detail) VALUES (?, ?, ?, ?)",
                       (time.time(), session, kind, detail))

    def audit(self, *, kinds: Iterable[str] | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, params = "", []
        if kinds:
            params = list(kinds)
            where = f" WHERE kind IN ({', '.join('?' for _ in params)})"
        return self.rows(f"SELECT * FROM audit{where} ORDER BY id DESC LIMIT ?", (*params, int(limit)))

    def record_space_action(self, *, session: str | None, space_id: str | None, action: str, outcome: str,
                            detail: str | None = None) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT INTO space_actions (ts, session, space_id, action, outcome, detail) "
                       "VALUES (?, ?, ?, ?, ?, ?)", (time.time(), session, space_id, action, outcome, detail))

    def space_actions(self, *, session: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, params = (" WHERE session = ?", [session]) if session is not None else ("", [])
        return self.rows(f"SELECT * FROM space_actions{where} ORDER BY id DESC LIMIT ?", (*params, int(limit)))
