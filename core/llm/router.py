"""The router: one chat request in, the best provider call out, every attempt recorded.

    router = Router.from_config("agentic-config.yaml", db="data/spaces_os.db")
    result = router.chat([{"role": "user", "content": "hi"}], keys={"openrouter": "sk-or-..."}, session="abc")
    result.text, result.provider, result.key_source, result.attempts

Plan order: the explicit `provider`, then `prefer`, then priority rank, then config order. Within a
provider the session's own key (BYOK) goes first, then the shared key, unless the provider says
`always_use_this_key`. Retryable failures back off with jitter, but only when no other candidate
is ready; a provider that keeps failing is cooled down for every session.

`provider=` names a configured provider to pin. OpenRouter's own per-request routing object is a
different thing and goes in `provider_routing=` (sent as OpenRouter's `provider` field; other
providers ignore it); `extra_body={"provider": {...}}` works too, as in the OpenAI SDK:

    router.chat(messages, provider="openrouter", provider_routing={"sort": "price", "allow_fallbacks": False})
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from core.errors import (
    HEALTH_FAILURES,
    PLAIN_WORDS,
    RETRYABLE,
    AllProvidersFailed,
    ErrorKind,
    ProviderError,
    StreamInterrupted,
)
from core.llm.breaker import CircuitBreakers
from core.llm.config import AppConfig, ProviderConfig, load_config
from core.llm.keys import redact, session_hash
from core.llm.prices import estimate_cost
from core.llm.providers import ChatRequest, Completion, Provider, build_provider
from core.store import STARTED, Store, UsageRow

log = logging.getLogger("spaces_os.router")


@dataclass
class Attempt:
    provider: str
    model: str | None
    key_source: str                 # byok | shared | demo
    outcome: str                    # ok | an ErrorKind value | cooldown_skip
    attempt: int = 0
    http_status: int | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None
    cost_source: str | None = None
    error: str | None = None
    retry_after: float | None = None


@dataclass
class Usage:
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None


@dataclass
class ChatResult:
    text: str
    provider: str
    model: str | None
    key_source: str
    attempts: list[Attempt]
    usage: Usage
    request_id: str
    latency_ms: float | None = None
    ttft_ms: float | None = None
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    demo: bool = False
    upstream: str | None = None
    demo_reason: str | None = None

    @property
    def fallback_chain(self) -> list[str]:
        """Plain-words list of the attempts that failed before the answer, e.g. ['openrouter: rate_limited']."""
        return [f"{a.provider}: {a.outcome}" for a in self.attempts if a.outcome != "ok"]


@dataclass
class Candidate:
    provider: Provider
    model: str | None
    key: str | None
    key_source: str
    always_use_this_key: bool = False
    ready_at: float = 0.0
    retries: int = 0
    deferred: bool = False          # already waited once for a shared-key hold
    note: str | None = None         # why the demo model answers, said in its reply

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def circuit(self) -> str:
        """Cooldown state is per provider; a visitor's own endpoint is keyed by its URL too."""
        return self.provider.config.options.get("circuit_key") or self.provider.name


@dataclass
class ProviderStatus:
    name: str
    kind: str
    configured: bool
    shared_key: bool
    session_key: bool
    usable: bool
    circuit: dict[str, Any] = field(default_factory=dict)


class Router:
    def __init__(self, config: AppConfig, store: Store | None = None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, budget: Any = None):
        self.config = config
        self.budget = budget        # hosted mode: a core.llm.budget.Budget limiting each visitor's shared-key use
        self.settings = config.router
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.providers: dict[str, Provider] = {p.name: build_provider(p) for p in config.providers}
        self.breakers = CircuitBreakers(self.settings.cooldown_after, self.settings.cooldown_seconds, clock)
        self._lock = threading.Lock()
        self._endpoint_providers: dict[tuple, Provider] = {}     # visitors' own endpoints (no keys inside)
        self._budget_audited: dict[str, float] = {}
        self._plain_plans: dict[str | None, list[tuple]] = {}

    @classmethod
    def from_config(cls, source: Any = None, db: str | Store | None = None, *,
                    env: Mapping[str, str] | None = None, **kwargs: Any) -> Router:
        """Build from a path, a dict or None (the lookup order), with the store at `db` (a path or Store)."""
        config = load_config(source, env=env)
        store = db if isinstance(db, Store) else Store(db) if db is not None else Store()
        return cls(config, store, **kwargs)

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()
        if self.store is not None:
            self.store.flush()

    # ------------------------------------------------------------------ planning

    def endpoint_provider(self, cfg: ProviderConfig) -> Provider:
        """The provider object for a session's own endpoint, reused across calls (it holds no key)."""
        cache_key = (cfg.name, cfg.base_url, bool(cfg.options.get("guarded")))
        with self._lock:
            provider = self._endpoint_providers.get(cache_key)
            if provider is None:
                if len(self._endpoint_providers) >= 64:
                    self._endpoint_providers.pop(next(iter(self._endpoint_providers))).close()
                cfg.options.setdefault("circuit_key", f"{cfg.name}@{cfg.base_url}")
                provider = self._endpoint_providers[cache_key] = build_provider(cfg)
            return provider

    def _provider_config(self, name: str, overrides: Mapping[str, Mapping[str, Any]] | None,
                         pool: Mapping[str, Provider] | None = None) -> ProviderConfig:
        base = (pool or self.providers)[name].config
        change = (overrides or {}).get(name)
        if not change:
            return base
        return replace(base, **{k: v for k, v in change.items() if k in ("priority", "fallback", "always_use_this_key")})

    def _usable(self, cfg: ProviderConfig, keys: Mapping[str, str]) -> bool:
        return cfg.kind != "demo" and bool(keys.get(cfg.name) or cfg.api_key or cfg.keyless)

    def is_demo(self, keys: Mapping[str, str] | None = None) -> bool:
        """True when no real provider has a key for this session: requests go to the demo provider."""
        keys = keys or {}
        return not any(self._usable(p.config, keys) for p in self.providers.values())

    def plan(self, *, model: str | Mapping[str, str] | None = None, provider: str | None = None,
             prefer: list[str] | None = None, keys: Mapping[str, str] | None = None,
             overrides: Mapping[str, Mapping[str, Any]] | None = None,
             endpoints: list[ProviderConfig] | None = None, use_shared: bool = True,
             shared_blocked_reason: str | None = None) -> list[Candidate]:
        """The ordered (provider, model, key) candidates this request will try.

        `endpoints` are the session's own OpenAI-compatible endpoints; `use_shared=False` leaves out
        every shared (server) key, e.g. when the session's budget on them is spent."""
        keys = {k: v for k, v in (keys or {}).items() if v}
        plain = not (keys or overrides or endpoints or provider or prefer) and use_shared and \
            (model is None or isinstance(model, str))
        if plain and (cached := self._plain_plans.get(model)) is not None:
            # The common request (no session keys or settings) always plans the same: reuse it.
            return [Candidate(*c) for c in cached]
        disabled = {n for n, o in (overrides or {}).items() if o.get("enabled") is False}
        pool: dict[str, Provider] = dict(self.providers)
        for cfg in endpoints or []:
            if cfg.name not in self.providers:
                pool[cfg.name] = self.endpoint_provider(cfg)
        if provider is not None and provider not in pool:
            raise AllProvidersFailed([], reason=f"Unknown provider `{provider}`. Configured: "
                                                f"{', '.join(pool)}.")
        configs = [self._provider_config(n, overrides, pool) for n in pool if n not in disabled]
        if not use_shared:
            configs = [replace(c, api_key=None, keyless=False) if c.kind != "demo" else c for c in configs]
        usable = [c for c in configs if self._usable(c, keys)]
        if provider not in (None, "demo"):
            self._check_pinned(provider, pool, disabled, usable,
                               None if use_shared else shared_blocked_reason or "your share of the owner's keys")
        if provider == "demo" or not usable:
            if not use_shared and any(c.api_key or c.keyless for c in
                                      (self._provider_config(n, overrides, pool) for n in pool)):
                limit = f" (the limit is {shared_blocked_reason})" if shared_blocked_reason else ""
                raise AllProvidersFailed([], reason=f"Your share of the owner's keys is used up for now{limit}: "
                                                    "add your own key on the Providers page to keep going.")
            demo = next(c for c in configs + [self.providers["demo"].config] if c.kind == "demo")
            if isinstance(model, str) and model and model not in demo.models and provider != "demo":
                raise AllProvidersFailed([], reason=f"No provider with a key can serve `{model}`, so it was not "
                                                    "sent to the offline demo model instead. Add a key on the "
                                                    "Providers page, or clear the model to use the demo.")
            reason = self._demo_reason(provider, pool, disabled)
            candidates = [Candidate(self.providers[demo.name], self._model_for(demo, model, True), None, "demo",
                                    note=reason)]
            if plain:
                self._plain_plans[model] = [(c.provider, c.model, c.key, c.key_source, False, 0.0, 0, False,
                                             c.note) for c in candidates]
            return candidates

        ranked = sorted(usable, key=lambda c: (c.priority is None, c.priority or 0, c.order))
        head = [provider] if provider else []
        head += [n for n in (prefer or []) if n not in head]
        by_name = {c.name: c for c in ranked}
        ordered = [by_name[n] for n in head if n in by_name] + [c for c in ranked if c.name not in head]
        # A provider with `fallback: false` is only used as the first choice, never as a fallback.
        ordered = ordered[:1] + [c for c in ordered[1:] if c.fallback]

        candidates = []
        for i, cfg in enumerate(ordered):
            chosen_model = self._model_for(cfg, model, i == 0)
            session_key = keys.get(cfg.name)
            if session_key:
                candidates.append(Candidate(pool[cfg.name], chosen_model, session_key, "byok",
                                            cfg.always_use_this_key))
            if cfg.api_key and not (session_key and cfg.always_use_this_key):
                candidates.append(Candidate(pool[cfg.name], chosen_model, cfg.api_key, "shared"))
            elif cfg.keyless and not session_key:
                candidates.append(Candidate(pool[cfg.name], chosen_model, None, "shared"))
        if plain and len(self._plain_plans) < 256:
            self._plain_plans[model] = [(c.provider, c.model, c.key, c.key_source, c.always_use_this_key)
                                        for c in candidates]
        return candidates

    def _check_pinned(self, provider: str, pool: Mapping[str, Provider], disabled: set[str],
                      usable: list[ProviderConfig], shared_blocked: str | None) -> None:
        """An explicit provider choice is answered by that provider or by a clear message, never by demo."""
        if provider in disabled:
            raise AllProvidersFailed([], reason=f"You chose `{provider}`, but it is switched off in your provider "
                                                "settings: switch it on on the Providers page, or choose auto.")
        if provider not in {c.name for c in usable}:
            cfg = pool[provider].config
            if shared_blocked and (cfg.api_key or cfg.keyless):
                raise AllProvidersFailed([], reason=f"Your share of the owner's keys is used up for now (the limit "
                                                    f"is {shared_blocked}): add your own key on the Providers "
                                                    "page to keep going.")
            raise AllProvidersFailed([], reason=f"You chose `{provider}`, but it has no key for this session: add "
                                                "yours on the Providers page, or choose auto.")

    def _demo_reason(self, provider: str | None, pool: Mapping[str, Provider], disabled: set[str]) -> str:
        """Why the offline demo model answers: said in every demo reply."""
        if provider == "demo":
            return "you chose the demo provider"
        real = [n for n, p in pool.items() if p.config.kind != "demo"]
        if not real:
            return "no provider is configured"
        if all(n in disabled for n in real):
            return "you switched every provider off in your settings"
        return "no provider has a key for this session"

    @staticmethod
    def _model_for(cfg: ProviderConfig, model: str | Mapping[str, str] | None, first: bool) -> str | None:
        if isinstance(model, Mapping):
            return model.get(cfg.name) or cfg.default_model
        if model and (first or model in cfg.models):
            return model
        return cfg.default_model

    # ------------------------------------------------------------------ running

    def chat(self, messages: list[dict[str, Any]], model: str | Mapping[str, str] | None = None,
             provider: str | None = None, prefer: list[str] | None = None,
             keys: Mapping[str, str] | None = None, session: str | None = None, **options: Any) -> ChatResult:
        """Send one chat request, failing over across candidates; raises AllProvidersFailed."""
        run = _Run(self, messages, model, provider, prefer, keys, session, options, streaming=False)
        return run.execute()

    def stream(self, messages: list[dict[str, Any]], model: str | Mapping[str, str] | None = None,
               provider: str | None = None, prefer: list[str] | None = None,
               keys: Mapping[str, str] | None = None, session: str | None = None, **options: Any) -> ChatStream:
        """Like chat(), but iterate the returned object for text chunks; `.result` is set at the end."""
        run = _Run(self, messages, model, provider, prefer, keys, session, options, streaming=True)
        return ChatStream(run)

    def status(self, keys: Mapping[str, str] | None = None) -> list[ProviderStatus]:
        keys = keys or {}
        out = []
        for p in self.providers.values():
            cfg = p.config
            out.append(ProviderStatus(cfg.name, cfg.kind, cfg.kind != "demo", bool(cfg.api_key),
                                      bool(keys.get(cfg.name)), self._usable(cfg, keys) or cfg.kind == "demo",
                                      self.breakers.snapshot(cfg.name)))
        return out

    def audit_budget(self, session: str, reason: str) -> None:
        """Audit a spent budget once a minute per visitor, not on every refused request."""
        now = self.clock()
        with self._lock:
            if now - self._budget_audited.get(session, -1e9) < 60:
                return
            self._budget_audited[session] = now
        if self.store is not None:
            self.store.record_audit("budget_exceeded", session=session, detail=reason)

    def backoff(self, retries: int, retry_after: float | None) -> float | None:
        """Seconds before retrying, or None when Retry-After is beyond the cap (don't wait that long)."""
        s = self.settings
        if retry_after is not None:
            return None if retry_after > s.retry_after_cap else retry_after
        base = min(s.backoff_cap, s.backoff_base * (2 ** retries))
        return base / 2 + self.rng.random() * base / 2      # "equal jitter"


_REQUEST_OPTIONS = ("max_tokens", "temperature")


class _Run:
    """The state of one request while its candidates are tried."""

    def __init__(self, router: Router, messages, model, provider, prefer, keys, session, options,
                 streaming: bool):
        self.router = router
        self.messages = messages
        self.keys = {k: v for k, v in keys.items() if v} if keys else {}
        self.session = options.pop("session_hash", None) or (session_hash(session) if session else None)
        self.task_id = options.pop("task_id", None)
        self.label = options.pop("label", None)
        self.on_attempt: Callable[[Attempt], None] | None = options.pop("on_attempt", None)
        overrides = options.pop("overrides", None)
        endpoints = options.pop("endpoints", None)
        use_shared = options.pop("use_shared", True)
        budget_reason, self.budget_ticket = None, None
        if use_shared and router.budget is not None and self.session:
            status, self.budget_ticket = router.budget.acquire(self.session)
            if not status.ok:
                use_shared, budget_reason = False, status.reason
                router.audit_budget(self.session, status.reason)
        deadline = options.pop("deadline", None) or router.settings.deadline
        extra = dict(options.pop("extra_body", None) or {})
        if isinstance(provider, Mapping):
            raise TypeError("`provider=` names a configured provider; pass OpenRouter's routing object as "
                            "`provider_routing=`")
        if (routing := options.pop("provider_routing", None)) is not None:
            extra["provider"] = dict(routing)      # OpenRouter's `provider` field, not the router's own
        if options:
            extra.update({k: options.pop(k) for k in list(options) if k not in _REQUEST_OPTIONS})
        self.request_options = options          # only max_tokens / temperature are left
        self.extra = extra
        self.streaming = streaming
        # Unique, not secret: uuid4() reads os.urandom, which costs 1.5 µs and releases the GIL.
        self.request_id = f"{random.getrandbits(128):032x}"
        self.attempts: list[Attempt] = []
        self.deadline = router.clock() + float(deadline)
        self.candidates = router.plan(model=model, provider=provider, prefer=prefer, keys=self.keys,
                                      overrides=overrides, endpoints=endpoints, use_shared=use_shared,
                                      shared_blocked_reason=budget_reason)
        self._recorded = 0
        # Every key this request may use, kept for redaction even after its candidate was tried.
        self.secrets = list({c.key for c in self.candidates if c.key} | set(self.keys.values()))
        if self.budget_ticket is not None and not any(c.key_source == "shared" for c in self.candidates):
            self.release_budget()

    def release_budget(self) -> None:
        """The request was counted against the shared-key budget up front; un-count it if it never
        touched a shared key (the usage rows, the lasting ledger, agree)."""
        if self.budget_ticket is not None and not any(a.key_source == "shared" for a in self.attempts):
            self.router.budget.release(self.session, self.budget_ticket)
        self.budget_ticket = None

    # -------------------------------------------------------------- bookkeeping

    def record(self, attempt: Attempt) -> None:
        attempt.attempt = len(self.attempts) + 1
        attempt.error = redact(attempt.error, self.secrets) if attempt.error else None
        self.attempts.append(attempt)
        if attempt.outcome != "ok":
            log.info("attempt %s %s/%s %s: %s", attempt.attempt, attempt.provider, attempt.model, attempt.outcome,
                     attempt.error)
        if self.on_attempt:
            self.on_attempt(attempt)

    def flush_usage(self) -> None:
        store = self.router.store
        new = self.attempts[self._recorded:]
        self._recorded = len(self.attempts)
        if store is None or not new:
            return
        now = time.time()
        store.record_attempts([UsageRow(
            request_id=self.request_id, ts=now, session=self.session, task_id=self.task_id,
            provider=a.provider, model=a.model, key_source=a.key_source, attempt=a.attempt,
            outcome=a.outcome, http_status=a.http_status, latency_ms=a.latency_ms, ttft_ms=a.ttft_ms,
            tokens_in=a.tokens_in, tokens_out=a.tokens_out, cost_usd=a.cost_usd,
            cost_source=a.cost_source, label=self.label, streamed=self.streaming, error=a.error,
        ) for a in new])

    def record_start(self, cand: Candidate) -> None:
        """A streamed attempt's row as it starts (outcome `started`); its end row completes it in place, so a
        process killed mid-stream still leaves a row for the attempt. chat() writes once, at the end."""
        store = self.router.store
        if store is not None:
            store.record_attempts([UsageRow(
                request_id=self.request_id, ts=time.time(), session=self.session, task_id=self.task_id,
                provider=cand.name, model=cand.model, key_source=cand.key_source, attempt=len(self.attempts) + 1,
                outcome=STARTED, label=self.label, streamed=True)])

    # -------------------------------------------------------------- candidate selection

    def next_candidate(self) -> Candidate | None:
        """The first candidate ready now; sleeps for a backoff only when nobody else is ready."""
        router = self.router
        while self.candidates:
            now = router.clock()
            ready = [c for c in self.candidates if c.ready_at <= now]
            if not ready:
                wake = min(c.ready_at for c in self.candidates)
                if wake >= self.deadline:
                    return None
                router.sleep(wake - now)
                continue
            cand = ready[0]
            self.candidates.remove(cand)
            if not router.breakers.allow(cand.circuit):
                self.record(Attempt(cand.name, cand.model, cand.key_source, "cooldown_skip",
                                    error="provider cooling down after repeated failures"))
                continue
            if cand.key_source == "shared" and (held := router.breakers.shared_held(cand.circuit)) > 0:
                router.breakers.release_probe(cand.circuit)
                if not cand.deferred and held <= router.settings.retry_after_cap and now + held < self.deadline:
                    # A short hold: try the others first, then come back when it ends.
                    cand.deferred, cand.ready_at = True, now + held
                    self.candidates.append(cand)
                    self.candidates.sort(key=lambda c: c.ready_at)
                    continue
                self.record(Attempt(cand.name, cand.model, cand.key_source, "cooldown_skip",
                                    error=f"shared key rate limited for {held:.0f} s more"))
                continue
            return cand
        return None

    def after_failure(self, cand: Candidate, error: ProviderError) -> None:
        breakers = self.router.breakers
        if error.kind in HEALTH_FAILURES:
            breakers.record_failure(cand.circuit, cause=f"{PLAIN_WORDS[error.kind]}"
                                    + (f" (HTTP {error.status})" if error.status else ""))
        else:
            breakers.release_probe(cand.circuit)
        if error.kind == ErrorKind.RATE_LIMITED and cand.key_source == "shared" and error.retry_after:
            breakers.hold_shared(cand.circuit, error.retry_after)
        if error.kind in RETRYABLE and cand.retries < self.router.settings.max_retries:
            delay = self.router.backoff(cand.retries, error.retry_after)
            if delay is not None and self.router.clock() + delay < self.deadline:
                cand.retries += 1
                cand.ready_at = self.router.clock() + delay
                # Same provider and key first again, unless someone else is ready now (see next_candidate).
                self.candidates.append(cand)
                self.candidates.sort(key=lambda c: c.ready_at)

    def timeout_for(self, cand: Candidate) -> float:
        return max(0.05, min(cand.provider.config.timeout, self.deadline - self.router.clock()))

    def unpriced_cost(self, completion: Completion, text: str) -> float:
        """A shared-key answer from a model missing from the price table still spends the visitor's USD
        budget, at the hosted fallback price (tokens counted from the text when the provider sent none)."""
        tokens_in = completion.tokens_in
        if tokens_in is None:
            tokens_in = sum(len(str(m.get("content") or "")) for m in self.messages) // 4
        tokens_out = completion.tokens_out if completion.tokens_out is not None else len(text) // 4
        return (tokens_in + tokens_out) * self.router.budget.settings.unpriced_usd_per_million_tokens / 1_000_000

    def request_for(self, cand: Candidate) -> ChatRequest:
        return ChatRequest(self.messages, cand.model, self.request_options.get("max_tokens"),
                           self.request_options.get("temperature"), self.extra)

    def success(self, cand: Candidate, completion: Completion, latency_ms: float, ttft_ms: float | None,
                text: str) -> ChatResult:
        self.router.breakers.record_success(cand.circuit)
        model = completion.model or cand.model
        cost, cost_source = completion.cost_usd, "provider"
        if cost is None:
            cost = estimate_cost(cand.model, completion.tokens_in, completion.tokens_out)
            cost_source = "price_table" if cost is not None else "unknown"
        if cost is None and cand.key_source == "shared" and self.router.budget is not None:
            cost, cost_source = self.unpriced_cost(completion, text), "hosted_fallback_price"
        self.record(Attempt(cand.name, model, cand.key_source, "ok", latency_ms=latency_ms, ttft_ms=ttft_ms,
                            tokens_in=completion.tokens_in, tokens_out=completion.tokens_out, cost_usd=cost,
                            cost_source=cost_source, http_status=200 if cand.key_source != "demo" else None))
        self.flush_usage()
        if self.budget_ticket is not None:
            self.release_budget()
        return ChatResult(
            text=text, provider=cand.name, model=model, key_source=cand.key_source, attempts=self.attempts,
            usage=Usage(completion.tokens_in, completion.tokens_out, cost), request_id=self.request_id,
            latency_ms=latency_ms, ttft_ms=ttft_ms, finish_reason=completion.finish_reason,
            tool_calls=completion.tool_calls, demo=cand.key_source == "demo", upstream=completion.upstream,
            demo_reason=cand.note)

    def failure(self, cand: Candidate, error: ProviderError, latency_ms: float, ttft_ms: float | None = None,
                tokens_out: int | None = None) -> None:
        # A failed generation can still be billed: the usage the provider sent with the error is recorded.
        tokens_out = error.tokens_out if error.tokens_out is not None else tokens_out
        cost, cost_source = error.cost_usd, "provider" if error.cost_usd is not None else None
        if cost is None and error.tokens_in is not None:
            cost = estimate_cost(cand.model, error.tokens_in, tokens_out)
            cost_source = "price_table" if cost is not None else "unknown"
        self.record(Attempt(cand.name, cand.model, cand.key_source, error.kind.value, http_status=error.status,
                            latency_ms=latency_ms, ttft_ms=ttft_ms, tokens_in=error.tokens_in, tokens_out=tokens_out,
                            cost_usd=cost, cost_source=cost_source, error=str(error), retry_after=error.retry_after))
        self.after_failure(cand, error)
        if cand.key_source == "byok" and cand.always_use_this_key:
            # BYOK-only provider: its failure is final for that provider; shared credits are never touched.
            self.candidates = [c for c in self.candidates if c.name != cand.name or c.key_source == "byok"]

    def give_up(self) -> AllProvidersFailed:
        self.flush_usage()
        if self.budget_ticket is not None:
            self.release_budget()
        if self.router.clock() >= self.deadline:
            return AllProvidersFailed(self.attempts, reason="The request ran out of time before any provider "
                                                            "answered.")
        return AllProvidersFailed(self.attempts)

    # -------------------------------------------------------------- non-streaming

    def execute(self) -> ChatResult:
        while (cand := self.next_candidate()) is not None:
            start = time.perf_counter()
            try:
                completion = cand.provider.chat(self.request_for(cand), cand.key, self.timeout_for(cand))
            except ProviderError as e:
                self.failure(cand, e, (time.perf_counter() - start) * 1000)
                continue
            latency = (time.perf_counter() - start) * 1000
            return self.success(cand, completion, latency, latency, completion.text)
        raise self.give_up()


class ChatStream:
    """Iterate for text chunks. Fails over only before the first chunk; after it, a failure raises
    `StreamInterrupted` carrying the partial text. `close()` stops early (the attempt is kept as ok)."""

    def __init__(self, run: _Run):
        self._run = run
        self.result: ChatResult | None = None
        self.partial_text = ""
        self.provider: str | None = None
        self.model: str | None = None
        self.key_source: str | None = None
        self._iterator: Iterator[str] | None = None
        self._closed = False

    @property
    def request_id(self) -> str:
        return self._run.request_id

    @property
    def attempts(self) -> list[Attempt]:
        return self._run.attempts

    def __iter__(self) -> Iterator[str]:
        if self._iterator is None:
            self._iterator = self._generate()
        return self._iterator

    def __next__(self) -> str:
        return next(iter(self))

    def text(self) -> str:
        """Drain the stream and return the whole text."""
        for _ in self:
            pass
        return self.partial_text

    def close(self) -> None:
        """Stop reading (e.g. the manager pauses the task); the connection is dropped."""
        self._closed = True
        if self._iterator is not None:
            self._iterator.close()

    def _generate(self) -> Iterator[str]:
        run = self._run
        while (cand := run.next_candidate()) is not None:
            self.provider, self.model, self.key_source = cand.name, cand.model, cand.key_source
            run.record_start(cand)
            start = time.perf_counter()
            ttft = None
            parts: list[str] = []
            source = cand.provider.stream(run.request_for(cand), cand.key, run.timeout_for(cand))
            try:
                for item in source:
                    if isinstance(item, Completion):
                        latency = (time.perf_counter() - start) * 1000
                        self.result = run.success(cand, item, latency, ttft, "".join(parts))
                        return
                    if ttft is None:
                        ttft = (time.perf_counter() - start) * 1000
                    parts.append(item)
                    self.partial_text += item
                    yield item
            except ProviderError as e:
                latency = (time.perf_counter() - start) * 1000
                if not parts:
                    run.failure(cand, e, latency)
                    continue
                if e.kind in HEALTH_FAILURES:   # the connection broke; a stated reason (a 400 limit) is kept
                    e = ProviderError(ErrorKind.STREAM_ERROR, str(e), status=e.status, tokens_in=e.tokens_in,
                                      tokens_out=e.tokens_out, cost_usd=e.cost_usd)
                run.failure(cand, e, latency, ttft, tokens_out=len(parts))
                run.flush_usage()
                raise StreamInterrupted(f"{e} — the answer stopped after {len(self.partial_text)} characters; "
                                        "the partial text is kept.", self.partial_text, run.attempts) from None
            except GeneratorExit:
                # Closed by the consumer: record what was delivered, as a successful partial attempt.
                source.close()
                latency = (time.perf_counter() - start) * 1000
                run.router.breakers.record_success(cand.circuit)
                run.record(Attempt(cand.name, cand.model, cand.key_source, "ok", latency_ms=latency, ttft_ms=ttft,
                                   tokens_out=len(parts), error="stopped early by the client"))
                run.flush_usage()
                raise
            finally:
                source.close()
            if not parts:   # the provider ended without a final completion: treat like a broken stream
                run.failure(cand, ProviderError(ErrorKind.STREAM_ERROR, f"{cand.name}: the stream ended early"),
                            (time.perf_counter() - start) * 1000)
                continue
            run.failure(cand, ProviderError(ErrorKind.STREAM_ERROR, f"{cand.name}: the stream ended early"),
                        (time.perf_counter() - start) * 1000, ttft, tokens_out=len(parts))
            run.flush_usage()
            raise StreamInterrupted(f"{cand.name}: the stream ended early; the partial text is kept.",
                                    self.partial_text, run.attempts)
        raise run.give_up()
