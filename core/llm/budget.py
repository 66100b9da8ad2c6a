"""Hosted mode: what changes when strangers use the owner's console on a public Space.

Each visitor gets a budget on the owner's shared keys (requests per minute, tokens and USD per day).
Spending is read from the `usage` rows themselves (key_source = shared, grouped by the visitor's
hashed identity), so a page reload does not reset it and there is no second ledger to drift.
Also here: the size limits every page applies.
"""

from __future__ import annotations

import collections
import hashlib
import threading
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

    The usage rows are the ledger, but they are written after a request ends (and batched for 0.1 s),
    so requests started in this process during the last minute are also counted in memory: a burst
    of parallel requests cannot all pass a check that none of their rows has reached yet."""

    def __init__(self, store, settings: HostedSettings):
        self.store = store
        self.settings = settings
        self._lock = threading.Lock()
        self._started: dict[str, collections.deque[float]] = {}     # session hash → start times, last 60 s

    def status(self, session_hash: str | None, now: float | None = None) -> BudgetStatus:
        if not self.settings.enabled or not session_hash:
            return BudgetStatus(True)
        now = time.time() if now is None else now
        spend = self._spend(session_hash, now)
        with self._lock:
            return self._judge(spend, self._recent(session_hash, now))

    def acquire(self, session_hash: str | None, now: float | None = None) -> tuple[BudgetStatus, float | None]:
        """Check the budget and, if it allows a request, count one at once. Returns the status and a
        ticket for `release` (None when nothing was counted)."""
        if not self.settings.enabled or not session_hash:
            return BudgetStatus(True), None
        now = time.time() if now is None else now
        spend = self._spend(session_hash, now)      # read outside the lock: other visitors don't wait on it
        with self._lock:         # the in-memory check and count are one step, or parallel requests all pass
            status = self._judge(spend, self._recent(session_hash, now))
            if not status.ok:
                return status, None
            self._started.setdefault(session_hash, collections.deque()).append(now)
            return status, now

    def _spend(self, session_hash: str, now: float) -> dict[str, Any]:
        return self.store.shared_spend(session_hash, minute_since=now - 60, day_since=now - 86400)

    def _judge(self, spend: dict[str, Any], started: int) -> BudgetStatus:
        """The rows are the ledger; requests this process started in the last minute count too (their
        rows may not be written yet)."""
        s = self.settings
        requests = max(spend["requests_last_minute"], started)
        status = BudgetStatus(True, "", requests, spend["tokens_today"], spend["usd_today"])
        if requests >= s.requests_per_minute:
            status.ok, status.reason = False, f"{s.requests_per_minute} requests a minute on the shared keys"
        elif spend["tokens_today"] >= s.tokens_per_day:
            status.ok, status.reason = False, f"{s.tokens_per_day:,} tokens a day on the shared keys"
        elif spend["usd_today"] >= s.usd_per_day:
            status.ok, status.reason = False, f"${s.usd_per_day:.2f} a day on the shared keys"
        return status

    def release(self, session_hash: str, ticket: float) -> None:
        """Un-count a request that ended up not using the shared keys (e.g. the visitor's own key answered)."""
        with self._lock:
            started = self._started.get(session_hash)
            if started is not None and ticket in started:
                started.remove(ticket)

    def _recent(self, session_hash: str, now: float) -> int:
        started = self._started.get(session_hash)
        if started is None:
            return 0
        while started and started[0] < now - 60:
            started.popleft()
        if not started:
            del self._started[session_hash]
            return 0
        return len(started)
