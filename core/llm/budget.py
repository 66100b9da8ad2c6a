"""Hosted mode: what changes when strangers use the owner's console on a public Space.

Each visitor gets a budget on the owner's shared keys (requests per minute, tokens and USD per day).
Tokens and USD are read from the `usage` rows themselves (key_source = shared, grouped by the visitor's
hashed identity), so a page reload does not reset it and there is no second ledger to drift; requests a
minute are admissions in the database, so the limit holds across processes (core/store/admissions.py).
Also here: the size limits every page applies.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from core.errors import ConfigError


@dataclass
class HostedSettings:
    enabled: bool = False
    requests_per_minute: int = 10         # on the shared keys, per visitor
    tokens_per_day: int = 50_000
    usd_per_day: float = 0.25
    max_message_chars: int = 20_000
    max_upload_bytes: int = 2_000_000
    max_tasks_per_session: int = 5
    max_tasks_total: int = 40
    allow_preview: bool = False           # the local preview sandbox of the build agent
    unpriced_usd_per_million_tokens: float = 15.0   # a shared-key model missing from the price table counts at this


def hosted_settings(sections: Mapping[str, Any], env: Mapping[str, str]) -> HostedSettings:
    """From the config's `hosted:` section; on when SPACE_ID is set (a Space) or `hosted.enabled: true`."""
    raw = sections.get("hosted") or {}
    if not isinstance(raw, dict):
        raise ConfigError("must be a mapping of hosted-mode settings", path="hosted")
    settings = HostedSettings()
    for f in fields(HostedSettings):
        if f.name not in raw:
            continue
        value, kind = raw[f.name], type(getattr(settings, f.name))
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError("must be true or false", path=f"hosted.{f.name}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError("must be a non-negative number", path=f"hosted.{f.name}")
        setattr(settings, f.name, kind(value))
    unknown = set(raw) - {f.name for f in fields(HostedSettings)}
    if unknown:
        raise ConfigError(f"unknown setting `{sorted(unknown)[0]}`", path=f"hosted.{sorted(unknown)[0]}")
    settings.enabled = bool(raw.get("enabled")) or bool(env.get("SPACE_ID")) or env.get("SPACES_OS_HOSTED") == "1"
    return settings


def visitor_identity(ip: str | None, user_agent: str | None, fallback: str) -> str:
    """A stable per-visitor id for budgets (survives page reloads): a hash of address and browser, never stored raw."""
    if not ip:
        return fallback
    return "v-" + hashlib.sha256(f"{ip}|{user_agent or ''}".encode()).hexdigest()[:20]


@dataclass
class BudgetStatus:
    ok: bool
    reason: str = ""
    requests_last_minute: int = 0
    tokens_today: int = 0
    usd_today: float = 0.0


class Budget:
    """Checks a visitor's spending on the shared keys against the hosted settings.

    Tokens and USD a day are read from the usage rows (the ledger). Requests a minute are admissions in
    the database (core/store/admissions.py): a request is counted when it starts, in the same transaction
    that checks the limit, so a burst of parallel requests stops at the limit even across console
    replicas that share a PostgreSQL database, and before any of their usage rows is written."""

    def __init__(self, store, settings: HostedSettings):
        self.store = store
        self.settings = settings

    def status(self, session_hash: str | None) -> BudgetStatus:
        """The budget as it stands, counting nothing."""
        if not self.settings.enabled or not session_hash:
            return BudgetStatus(True)
        status = self._judge_spend(self._spend(session_hash))
        status.requests_last_minute = self.store.admissions_in_window(session_hash)
        if status.ok and status.requests_last_minute >= self.settings.requests_per_minute:
            status.ok, status.reason = False, self._requests_reason()
        return status

    def acquire(self, session_hash: str | None) -> tuple[BudgetStatus, int | None]:
        """Check the budget and, if it allows a request, count one at once (one short transaction). Returns
        the status and a ticket for `release` (None when nothing was counted)."""
        if not self.settings.enabled or not session_hash:
            return BudgetStatus(True), None
        status = self._judge_spend(self._spend(session_hash))
        if not status.ok:           # tokens or USD spent: waiting a minute would not help, count nothing
            return status, None
        admission = self.store.admit(session_hash, self.settings.requests_per_minute)
        status.requests_last_minute = admission.count
        if not admission.admitted:
            status.ok, status.reason = False, self._requests_reason()
        return status, admission.ticket

    def release(self, session_hash: str, ticket: int) -> None:
        """Un-count a request that ended up not using the shared keys (e.g. the visitor's own key answered)."""
        self.store.release_admission(ticket)

    def _spend(self, session_hash: str) -> dict[str, Any]:
        now = time.time()
        return self.store.shared_spend(session_hash, minute_since=now - 60, day_since=now - 86400)

    def _judge_spend(self, spend: dict[str, Any]) -> BudgetStatus:
        s = self.settings
        status = BudgetStatus(True, "", 0, spend["tokens_today"], spend["usd_today"])
        if spend["tokens_today"] >= s.tokens_per_day:
            status.ok, status.reason = False, f"{s.tokens_per_day:,} tokens a day on the shared keys"
        elif spend["usd_today"] >= s.usd_per_day:
            status.ok, status.reason = False, f"${s.usd_per_day:.2f} a day on the shared keys"
        return status

    def _requests_reason(self) -> str:
        return f"{self.settings.requests_per_minute} requests a minute on the shared keys"
