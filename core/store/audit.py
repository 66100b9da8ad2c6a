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
    """Mixed into `core.store.Store`; uses its `db()` and `transaction()`."""

    def record_audit(self, kind: str, *, session: str | None = None, detail: str | None = None) -> None:
        """Key set or cleared (never the key), Space created or deleted, budget exceeded."""
        with self.transaction():
            self.db()["audit"].insert({"ts": time.time(), "session": session, "kind": kind, "detail": detail})

    def audit(self, *, kinds: Iterable[str] | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, params = None, []
        if kinds:
            params = list(kinds)
            where = f"kind IN ({', '.join('?' for _ in params)})"
        return list(self.db()["audit"].rows_where(where, params, order_by="id DESC", limit=int(limit)))

    def record_space_action(self, *, session: str | None, space_id: str | None, action: str, outcome: str,
                            detail: str | None = None) -> None:
        with self.transaction():
            self.db()["space_actions"].insert({"ts": time.time(), "session": session, "space_id": space_id,
                                               "action": action, "outcome": outcome, "detail": detail})

    def space_actions(self, *, session: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        where, params = ("session = ?", [session]) if session is not None else (None, [])
        return list(self.db()["space_actions"].rows_where(where, params, order_by="id DESC", limit=int(limit)))
