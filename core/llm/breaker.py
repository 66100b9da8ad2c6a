"""Per-provider circuit breaker with a half-open probe, shared by every session in the process.

closed → (N consecutive health failures) → open for `cooldown` seconds → half-open: one probe
request goes through; success closes the circuit, failure opens it again. A provider that
rate-limits the shared key is also held until its Retry-After, for every session. The state is shared
by every session of the process, so the snapshot keeps the last failure's cause to say why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class CircuitState:
    state: str = "closed"          # closed | open | half_open
    failures: int = 0
    opened_at: float = 0.0
    probe_in_flight: bool = False
    shared_hold_until: float = 0.0
    last_cause: str = ""           # the last health failure in plain words, e.g. "unavailable (HTTP 503)"


class CircuitBreakers:
    def __init__(self, failure_threshold: int = 3, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.failure_threshold = max(1, failure_threshold)
        self.cooldown = cooldown
        self.clock = clock
        self._states: dict[str, CircuitState] = {}
        self._lock = threading.Lock()

    def _get(self, provider: str) -> CircuitState:
        return self._states.setdefault(provider, CircuitState())

    def allow(self, provider: str) -> bool:
        """May a request go to `provider` now? In half-open state only one probe is let through."""
        state = self._states.get(provider)
        if state is None or state.state == "closed":     # the common case needs no lock
            return True
        with self._lock:
            s = self._get(provider)
            if s.state == "closed":
                return True
            if s.state == "open" and self.clock() - s.opened_at >= self.cooldown:
                s.state = "half_open"
                s.probe_in_flight = False
            if s.state == "half_open" and not s.probe_in_flight:
                s.probe_in_flight = True
                return True
            return False

    def record_success(self, provider: str) -> None:
        state = self._states.get(provider)
        if state is not None and state.state == "closed" and not state.failures:
            return                                         # nothing to reset
        with self._lock:
            s = self._get(provider)
            s.state, s.failures, s.probe_in_flight = "closed", 0, False

    def record_failure(self, provider: str, cause: str = "") -> None:
        """One health failure; `cause` in plain words is kept to say why the circuit opened."""
        with self._lock:
            s = self._get(provider)
            s.failures += 1
            s.last_cause = cause or s.last_cause
            if s.state == "half_open" or s.failures >= self.failure_threshold:
                s.state, s.opened_at, s.probe_in_flight = "open", self.clock(), False

    def release_probe(self, provider: str) -> None:
        """A half-open probe ended without a verdict on health (e.g. a bad key): let another probe in."""
        with self._lock:
            self._get(provider).probe_in_flight = False

    def hold_shared(self, provider: str, seconds: float) -> None:
        with self._lock:
            s = self._get(provider)
            s.shared_hold_until = max(s.shared_hold_until, self.clock() + seconds)

    def shared_held(self, provider: str) -> float:
        """Seconds left before the shared key may be used again (0 if free)."""
        state = self._states.get(provider)
        if state is None or not state.shared_hold_until:
            return 0.0
        with self._lock:
            return max(0.0, self._get(provider).shared_hold_until - self.clock())

    def snapshot(self, provider: str) -> dict:
        with self._lock:
            s = self._get(provider)
            left = max(0.0, self.cooldown - (self.clock() - s.opened_at)) if s.state == "open" else 0.0
            return {"state": s.state, "failures": s.failures, "cooldown_left_s": round(left, 1),
                    "cause": s.last_cause, "threshold": self.failure_threshold,
                    "shared_hold_s": round(max(0.0, s.shared_hold_until - self.clock()), 1)}
