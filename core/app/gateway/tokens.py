"""Console access tokens: created by the operator, shown once, stored as a hash (core/store/access_tokens.py).

    issued = TokenService(svc.store).create(TokenSpec(name="ci", scopes=("chat",), requests_per_minute=30))
    issued.token           # 'sos_…': shown once; only its sha256 is kept
    TokenService(svc.store).verify(issued.token).scopes      # -> ('chat',)

In the manner of LiteLLM's virtual keys: each token carries a budget (requests a minute, tokens and USD a
day), the providers it may use, its scopes and an expiry.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from core.store import AccessTokenRow, Store

PREFIX = "sos_"
SCOPES = ("chat", "spaces-read", "spaces-write")
DAY = 86_400.0
USE_RECORDED_EVERY = 60.0       # seconds: the tokens list shows "last used" to the minute


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenSpec:
    name: str
    scopes: tuple[str, ...] = ("chat",)
    providers: tuple[str, ...] = ()          # empty: every provider
    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    usd_per_day: float | None = None
    expires_in_days: float | None = 30.0


@dataclass(frozen=True)
class AccessToken:
    """A verified token's grants (never the token itself)."""

    id: str
    name: str
    scopes: tuple[str, ...]
    providers: tuple[str, ...]
    requests_per_minute: int | None
    tokens_per_day: int | None
    usd_per_day: float | None
    expires_at: float | None
    last_used_at: float | None = None

    @classmethod
    def from_row(cls, row: AccessTokenRow) -> AccessToken:
        split = lambda text: tuple(p for p in (text or "").split(",") if p)   # noqa: E731
        return cls(row.id, row.name, split(row.scopes), split(row.providers), row.requests_per_minute,
                   row.tokens_per_day, row.usd_per_day, row.expires_at, row.last_used_at)

    @property
    def identity(self) -> str:
        """The session its calls are recorded under (stored only as a hash, like every session)."""
        return f"api-token:{self.id}"


@dataclass(frozen=True)
class IssuedToken:
    token: str = field(repr=False)
    grant: AccessToken


class TokenService:
    def __init__(self, store: Store, clock=time.time):
        self.store = store
        self.clock = clock

    def create(self, spec: TokenSpec) -> IssuedToken:
        """A new token; the caller shows `token` once. Raises ValueError on an unknown scope or empty name."""
        name = " ".join(spec.name.split())
        if not name:
            raise ValueError("Give the token a name, e.g. who or what will use it.")
        unknown = [s for s in spec.scopes if s not in SCOPES]
        if unknown or not spec.scopes:
            raise ValueError(f"Scopes are {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}.")
        token = PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        row = AccessTokenRow(
            id=secrets.token_hex(4), name=name, token_hash=token_hash(token), created_at=now,
            expires_at=now + spec.expires_in_days * DAY if spec.expires_in_days else None,
            scopes=",".join(s for s in SCOPES if s in spec.scopes), providers=",".join(spec.providers) or None,
            requests_per_minute=spec.requests_per_minute or None, tokens_per_day=spec.tokens_per_day or None,
            usd_per_day=spec.usd_per_day or None)
        self.store.create_access_token(row)
        return IssuedToken(token, AccessToken.from_row(row))

    def verify(self, token: str) -> AccessToken | None:
        """The grant of a live token, or None (unknown, revoked or expired)."""
        row = self.store.access_token_by_hash(token_hash(token))
        now = self.clock()
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        return AccessToken.from_row(row)

    def record_use(self, grant: AccessToken) -> None:
        """Note that `grant` was used now, at most once a minute: a write per API request cost every call a write
        transaction (~0.2 ms in bench/gateway.py) for a time the list shows to the minute."""
        now = self.clock()
        if grant.last_used_at is None or now - grant.last_used_at >= USE_RECORDED_EVERY:
            self.store.touch_access_token(grant.id, now)

    def listed(self) -> list[dict]:
        """Every token for the operator's table: no hash, no token."""
        now = self.clock()
        return [{"id": r.id, "name": r.name, "scopes": r.scopes, "providers": r.providers or "all",
                 "requests/min": r.requests_per_minute, "tokens/day": r.tokens_per_day, "USD/day": r.usd_per_day,
                 "state": "revoked" if r.revoked_at else "expired" if r.expires_at and r.expires_at <= now else "live",
                 "expires": time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.expires_at)) if r.expires_at else "never",
                 "last used": time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.last_used_at)) if r.last_used_at else "—"}
                for r in self.store.access_tokens()]

    def revoke(self, token_id: str) -> None:
        self.store.revoke_access_token(token_id, self.clock())


class RequestWindow:
    """Requests a minute per token, counted in the database (core/store/admissions.py), so the limit holds
    across every console process that shares it: a sliding 60 s window of admissions."""

    def __init__(self, store: Store):
        self.store = store

    def admit(self, token_id: str, limit: int) -> float | None:
        """None when admitted (and counted), else the seconds until a slot frees."""
        admission = self.store.admit(f"token:{token_id}", limit)
        return None if admission.admitted else admission.retry_after_s
