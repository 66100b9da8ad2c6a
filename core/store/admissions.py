"""The `admissions` table: requests-a-minute limits that hold across every process sharing the database.

    a = store.admit("token:ab12cd34", limit=30)     # one short transaction
    a.admitted, a.count, a.ticket                   # -> True, 1, 17   (count: in the window, this one included)
    store.release_admission(a.ticket)               # un-count it (the request never used a shared key)
    store.admissions_in_window("token:ab12cd34")    # -> 0
    store.admit("token:ab12cd34", limit=0).retry_after_s     # refused: seconds until a slot frees

A subject is a visitor's session hash (core/llm/budget.py) or `token:<id>` (core/app/gateway/tokens.py).
Check and insert are one step for every process at once: on SQLite the transaction is BEGIN IMMEDIATE (one
writer per file), on PostgreSQL it first takes `pg_advisory_xact_lock(ADMISSION_LOCKS, hashtext(subject))`,
so admissions of one subject queue up while other subjects go on in parallel. The count runs after the lock,
in a statement of its own: under READ COMMITTED it then sees the previous holder's committed row. Times come
from `clock()` read inside the transaction: the server's on PostgreSQL, so replicas agree on the window.

Cost: SQLite, one BEGIN IMMEDIATE with a count over the (subject, ts) index and an insert; PostgreSQL, five
short statements on one pooled connection (BEGIN, lock, count, insert, COMMIT). bench/README.md has figures.
Rows older than the window are pruned by `prune_admissions`, which `admit` runs at most once a minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

WINDOW_S = 60.0
ADMISSION_LOCKS = 0x4144_4D54        # the first key of the advisory locks (two-key space, 'ADMT')
PRUNE_EVERY_S = 60.0
_PG_CLOCK = "extract(epoch FROM clock_timestamp())::float8"


@dataclass(frozen=True, slots=True)
class Admission:
    """One `admit` call's answer."""

    admitted: bool
    count: int                  # the subject's admissions in the window, this one included when admitted
    ticket: int | None = None   # the row, for release_admission(); None when refused
    retry_after_s: float = 0.0  # refused: seconds until the oldest admission leaves the window


class AdmissionQueries:
    """Mixed into `core.store.Store`; uses its `transaction()`, `execute()`, `clock()` and `dialect`."""

    _admissions_pruned_at = 0.0      # this process's last prune (time.monotonic())

    def admit(self, subject: str, limit: int, *, window_s: float = WINDOW_S) -> Admission:
        """Record one admission of `subject` if it has fewer than `limit` in the last `window_s` seconds;
        atomic across threads, processes and (on PostgreSQL) machines."""
        with self.transaction() as tx:
            if self.dialect == "postgresql":
                tx.execute("SELECT pg_advisory_xact_lock(?::int4, hashtext(?))", (ADMISSION_LOCKS, subject))
                clock, params = _PG_CLOCK, (window_s, subject)
            else:
                clock, params = "?", (time.time(), window_s, subject)
            now, count, oldest = tx.execute(
                f"SELECT c.at_, count(a.id), min(a.ts) FROM (SELECT {clock} AS at_) c "
                f"LEFT JOIN admissions a ON a.ts > c.at_ - ? AND a.subject = ? GROUP BY c.at_", params).fetchone()
            if count >= limit:
                retry = (oldest + window_s - now) if oldest is not None else window_s
                return Admission(False, count, retry_after_s=max(0.0, retry))
            ticket = tx.execute("INSERT INTO admissions (subject, ts) VALUES (?, ?) RETURNING id",
                                (subject, now)).fetchone()[0]
        if time.monotonic() - self._admissions_pruned_at >= PRUNE_EVERY_S:
            self.prune_admissions(window_s=window_s)
        return Admission(True, count + 1, ticket)

    def release_admission(self, ticket: int) -> bool:
        """Un-count one admission (e.g. a request that ended up not using the shared keys). True if it was there."""
        with self.transaction() as tx:
            return tx.execute("DELETE FROM admissions WHERE id = ?", (ticket,)).rowcount == 1

    def admissions_in_window(self, subject: str, *, window_s: float = WINDOW_S) -> int:
        """How many admissions `subject` has in the last `window_s` seconds (a read; counts nothing)."""
        return self.execute("SELECT count(*) FROM admissions WHERE subject = ? AND ts > ?",
                            (subject, self.clock() - window_s)).fetchone()[0]

    def prune_admissions(self, *, window_s: float = WINDOW_S) -> int:
        """Delete admissions older than the window (they no longer count); returns how many."""
        self._admissions_pruned_at = time.monotonic()
        before = self.clock() - window_s
        with self.transaction() as tx:
            return tx.execute("DELETE FROM admissions WHERE ts <= ?", (before,)).rowcount
