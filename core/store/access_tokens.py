"""The `access_tokens` table: console access tokens for the HTTP API, stored as a hash, never the token.

    store.create_access_token(AccessTokenRow(id="t1", name="ci", token_hash=h, created_at=now, scopes="chat"))
    store.access_token_by_hash(h).name                       # -> 'ci'
    store.revoke_access_token("t1", when=now)
    store.token_spend(session_hash, since=now - 86400)       # -> (tokens, usd) from the usage rows

The token itself exists only in the operator's browser the moment it is created (core/app/gateway/tokens.py).
A token's daily spend is read from `usage` (the lasting ledger), under the session hash its calls carry.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(slots=True, kw_only=True)
class AccessTokenRow:
    id: str                             # public: shown in lists, used to revoke
    name: str
    token_hash: str                     # sha256 of the token
    created_at: float
    expires_at: float | None = None     # unix seconds; None: never
    revoked_at: float | None = None
    scopes: str = "chat"                # comma-separated: chat, spaces-read, spaces-write
    providers: str | None = None        # comma-separated provider names; None: every provider
    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    usd_per_day: float | None = None
    last_used_at: float | None = None

    @classmethod
    def from_mapping(cls, row: dict[str, Any]) -> AccessTokenRow:
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})


_COLUMNS = tuple(f.name for f in fields(AccessTokenRow))
_INSERT = f"INSERT INTO access_tokens ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)})"


class AccessTokenQueries:
    """Mixed into `core.store.Store`; uses its `rows()`, `execute()` and `transaction()` (both backends)."""

    def create_access_token(self, row: AccessTokenRow) -> None:
        values = asdict(row)
        with self.transaction() as tx:
            tx.execute(_INSERT, tuple(values[c] for c in _COLUMNS))

    def access_token_by_hash(self, token_hash: str) -> AccessTokenRow | None:
        rows = self.rows("SELECT * FROM access_tokens WHERE token_hash = ? LIMIT 1", (token_hash,))
        return AccessTokenRow.from_mapping(rows[0]) if rows else None

    def access_tokens(self) -> list[AccessTokenRow]:
        """Every token, newest first (revoked ones too: the list says so)."""
        return [AccessTokenRow.from_mapping(r)
                for r in self.rows("SELECT * FROM access_tokens ORDER BY created_at DESC, id")]

    def revoke_access_token(self, token_id: str, when: float) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       (when, token_id))

    def touch_access_token(self, token_id: str, when: float) -> None:
        with self.transaction() as tx:
            tx.execute("UPDATE access_tokens SET last_used_at = ? WHERE id = ?", (when, token_id))

    def token_spend(self, session: str, *, since: float) -> tuple[int, float]:
        """Tokens (in + out) and USD the usage rows of `session` (a hash) record since `since`."""
        row = self.execute(
            "SELECT coalesce(sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)), 0), coalesce(sum(cost_usd), 0) "
            "FROM usage WHERE session = ? AND ts >= ?", (session, since)).fetchone()
        return int(row[0]), float(row[1])
