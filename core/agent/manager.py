"""The manager agent: classify each request, pick a model tier, keep a task queue, and pre-empt a
long task for a quick one (pause at a chunk boundary → checkpoint → answer → resume by continuation).

    manager = Manager(router)
    task = manager.submit("Write a report on GPU prices", session="abc")   # COMPLEX: returns at once
    quick = manager.submit("What's 2+2?", session="abc")                    # QUICK: answered before returning
    manager.wait(task.id, timeout=30).result

The `tasks` table is the source of truth: every status change is written before `get` can report
it, and every decision is an `events` row. BYOK keys stay in this process's memory and are never
persisted; each task records whose keys it runs on (`key_source`: shared | byok | demo).

Replicas: several managers (processes) may share one database. Workers take queued tasks from the
database (`store.claim_next_task`, `FOR UPDATE SKIP LOCKED` on PostgreSQL), woken at once by a submit or
resume in their own process and otherwise every `heartbeat_s`. A task on shared or demo keys is anyone's
to run; one on a visitor's own keys is leased to a manager that holds that session's keys.

One owner per running task: each manager has an `owner_id` (host:pid:random) and leases the tasks it
runs (`lease_s`, renewed every `heartbeat_s` by its heartbeat thread). Every write of a running task is
conditional on still owning it; a worker whose lease was taken stops quietly. Another manager takes over
only expired leases, i.e. tasks whose manager died. A task on shared or demo keys is queued again and
continues from its checkpoint on whichever replica claims it, to the exact text, with nobody pressing
Resume. A task on a visitor's own keys continues only in a manager that holds that session's keys (the
latest the session gave it, in memory); elsewhere it is paused with a reason the task card shows, and
continues once the session gives keys here (or is resumed with the keys it has now).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.agent.classifier import Classification, Label, classify
from core.agent.rules import RoutingRules, load_rules
from core.errors import AllProvidersFailed, SpacesOSError, StoreError, StreamInterrupted, TooManyTasks
from core.llm.keys import redact_value, session_hash
from core.llm.router import Attempt, Router
from core.store.event_kinds import EventKind

log = logging.getLogger("spaces_os.manager")

ACTIVE = ("queued", "running", "paused")
FINAL = ("done", "failed", "cancelled")
PROGRESS_EVERY_S = 0.5          # how often a running task writes its partial text
PAUSE_POLL_S = 0.02             # the worker notices a pause request at least this often
LEASE_S = 10.0                  # a task's owner is presumed dead this long after its last heartbeat
HEARTBEAT_S = 2.0               # how often a manager renews its leases and looks for expired ones
HELD_SESSIONS = 1024            # sessions whose own keys a manager keeps at most (only while they have tasks)
CARRIED_ON = ("shared", "demo")  # key sources any replica holds: such a task continues wherever


@dataclass
class Task:
    id: str
    session: str | None
    prompt: str
    label: str | None
    confidence: float | None
    reasons: list[str]
    provider: str | None
    model: str | None
    status: str
    checkpoint: dict[str, Any] | None
    result: str | None
    error: str | None
    created_at: float
    updated_at: float
    key_source: str | None = None       # shared | byok | demo: whose keys its provider calls use

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Task:
        return cls(row["id"], row["session"], row["prompt"], row["label"], row["confidence"],
                   row["reasons"] or [], row["provider"], row["model"], row["status"], row["checkpoint"],
                   row["result"], row["error"], row["created_at"], row["updated_at"], row.get("key_source"))

    @property
    def partial_text(self) -> str:
        return (self.checkpoint or {}).get("partial_text", "") if self.status != "done" else (self.result or "")


@dataclass
class _Control:
    """In-memory state of a task that may run: its keys and the flags a worker polls."""

    messages: list[dict[str, Any]]
    keys: dict[str, str] = field(default_factory=dict)
    provider: str | None = None
    model: str | None = None
    model_map: dict[str, str] | None = None
    prefer: list[str] | None = None
    overrides: dict[str, dict[str, Any]] | None = None     # the session's per-provider settings
    options: dict[str, Any] | None = None   # the request's own options (max_tokens, temperature…), never stored
    stop: str | None = None             # None | "interrupted" | "paused" | "cancelled"
    stopped: threading.Event = field(default_factory=threading.Event)
    interrupted_by: str | None = None

    def route(self) -> dict[str, Any]:
        """What the checkpoint keeps of it, so any replica can run the task: everything but the keys."""
        return {"provider": self.provider, "models": self.model_map, "prefer": self.prefer,
                "overrides": self.overrides}


class Manager:
    def __init__(self, router: Router, rules: RoutingRules | None = None, *, workers: int | None = None,
                 max_tasks_total: int | None = None, lease_s: float = LEASE_S, heartbeat_s: float = HEARTBEAT_S):
        self.router = router
        self.owner_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s
        self.max_tasks_total = max_tasks_total
        self.store = router.store
        self.rules = rules or load_rules()
        self._controls: dict[str, _Control] = {}
        self._running: dict[str, str] = {}             # task id → session hash, for COMPLEX tasks streaming
        self._session_keys: OrderedDict[str, dict[str, str]] = OrderedDict()   # session hash → its latest keys
        self._queued_here: set[str] = set()            # queued and leased here, for this manager's workers only
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._work = threading.Condition(threading.Lock())
        self._wakeups = 0               # submits and resumes here that no worker has looked at yet
        self._closing = False
        self._workers = [threading.Thread(target=self._worker, name=f"manager-worker-{i}", daemon=True)
                         for i in range(self.rules.workers if workers is None else workers)]
        self._beat_stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="manager-heartbeat", daemon=True)
        self._recover()
        for w in self._workers:
            w.start()
        self._beat.start()

    # ------------------------------------------------------------------ classification and routing

    def classify(self, prompt: str, keys: Mapping[str, str] | None = None, *,
                 session_hash: str | None = None) -> Classification:
        """Offline classifier; the optional LLM classifier (never in demo mode) may overrule it."""
        offline = classify(prompt)
        llm = self.rules.llm_classifier
        if not llm.get("enabled") or self.router.is_demo(keys):
            return offline
        try:
            answer = self.router.chat(
                [{"role": "system", "content": "Label the user's request QUICK (short answer), COMPLEX (long "
                                               "or hard work) or URGENT (cannot wait). Answer with one word."},
                 {"role": "user", "content": prompt[:2000]}],
                model=self.rules.models_for("QUICK", self._provider_configs()), keys=keys, max_tokens=3,
                session_hash=session_hash, label="CLASSIFY",     # budgeted and recorded like the answer
                deadline=float(llm.get("timeout", 3)))
        except SpacesOSError:
            return offline
        word = answer.text.strip().upper().strip(".")
        if word in Label.__members__ and word != offline.label.value:
            return Classification(Label(word), 0.7, [*offline.reasons, f"LLM classifier said {word}"],
                                  offline.complexity)
        return offline

    def _provider_configs(self):
        return [p.config for p in self.router.providers.values()]

    def route(self, label: str, keys: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Models per provider for this label, and the provider preference (URGENT: fastest healthy)."""
        models = self.rules.models_for(label, self._provider_configs())
        prefer: list[str] = []
        rule = self.rules.labels.get(label)
        if rule and rule.fastest_provider and self.store is not None:
            latency = self.store.recent_provider_latency(time.time() - 3600)
            healthy = [s.name for s in self.router.status(keys) if s.usable and s.circuit.get("state") != "open"]
            prefer = sorted((n for n in healthy if n in latency), key=lambda n: latency[n])
        return {"models": models, "prefer": prefer}

    # ------------------------------------------------------------------ submitting

    def submit(self, prompt: str, session: str | None = None, keys: Mapping[str, str] | None = None, *,
               history: list[dict[str, Any]] | None = None, provider: str | None = None,
               model: str | None = None, label: str | None = None,
               overrides: Mapping[str, Mapping[str, Any]] | None = None,
               options: Mapping[str, Any] | None = None) -> Task:
        """Create the task; QUICK and URGENT are answered before this returns, COMPLEX runs in the background."""
        task, stream = self.submit_streaming(prompt, session, keys, history=history, provider=provider,
                                             model=model, label=label, overrides=overrides, options=options)
        for _ in stream:
            pass
        return self.get(task.id)

    def submit_streaming(self, prompt: str, session: str | None = None, keys: Mapping[str, str] | None = None,
                         *, history: list[dict[str, Any]] | None = None, provider: str | None = None,
                         model: str | None = None, label: str | None = None,
                         overrides: Mapping[str, Mapping[str, Any]] | None = None,
                         options: Mapping[str, Any] | None = None) -> tuple[Task, Iterator[str]]:
        """Like submit(), but QUICK/URGENT answers stream through the returned iterator (empty for COMPLEX).

        `overrides` are the session's per-provider settings (enabled, priority, fallback,
        always_use_this_key); `options` are request options for every call of the task (`max_tokens`,
        `temperature`… as `Router.stream` takes them), kept in memory like the keys. An explicit `provider`
        or `model` that cannot be served raises `AllProvidersFailed` before any task is created, never
        falling to the demo model."""
        keys = {k: v for k, v in (keys or {}).items() if v}
        overrides = {k: dict(v) for k, v in overrides.items()} if overrides else None
        sess = session_hash(session)
        self._check_session_limit(sess)
        if provider or model:
            self.router.plan(model=model, provider=provider, keys=keys, overrides=overrides)   # raises if it can't
        c = self.classify(prompt, keys, session_hash=sess)
        if label in Label.__members__:
            c = Classification(Label(label), 1.0, [*c.reasons, f"label set by the user: {label}"], c.complexity)
        messages = [*(history or []), {"role": "user", "content": prompt}]
        row = self.store.create_task(prompt=prompt, session=sess, label=c.label.value, confidence=c.confidence,
                                     reasons=c.reasons, status="queued",
                                     checkpoint={"messages": messages, "partial_text": ""},
                                     owner=self.owner_id, lease_until=self.store.clock() + self.lease_s)
        task_id = row["id"]
        self._event(task_id, EventKind.CLASSIFIED,
                    f"{c.label.value} ({c.confidence:.0%}): {', '.join(c.reasons[:3])}",
                    label=c.label.value, confidence=c.confidence, reasons=c.reasons, complexity=c.complexity)
        routed = self.route(c.label.value, keys)
        if model:
            routed["models"] = {**routed["models"], (provider or next(iter(routed["models"]), "")): model}
        control = _Control(messages, keys, provider, None, routed["models"], routed["prefer"], overrides,
                           dict(options) if options else None)
        with self._lock:
            self._controls[task_id] = control
        plan = self.router.plan(model=routed["models"], provider=provider, prefer=routed["prefer"], keys=keys,
                                overrides=overrides)
        first = plan[0] if plan else None
        key_source = _key_source(plan)
        self.store.update_task(task_id, provider=first.name if first else None, model=first.model if first else None,
                               key_source=key_source,
                               checkpoint={"messages": messages, "partial_text": "", "route": control.route()})
        self._event(task_id, EventKind.ROUTED,
                    f"{c.label.value} → {self.rules.tier_of(c.label.value)} tier: "
                    + " → ".join(f"{x.name}/{x.model}" for x in plan[:4]),
                    label=c.label.value, tier=self.rules.tier_of(c.label.value),
                    plan=[{"provider": x.name, "model": x.model, "key_source": x.key_source} for x in plan])
        if keys:
            self.give_keys(sess, keys, hashed=True)
        if c.label == Label.COMPLEX:
            self._enqueue(task_id, control, key_source)
            return self.get(task_id), iter(())
        return self.get(task_id), self._run_foreground(task_id, sess)

    def _check_session_limit(self, sess: str | None) -> None:
        active = self.store.list_tasks(session=sess, statuses=ACTIVE, limit=1000)
        if len(active) >= self.rules.max_tasks_per_session:
            raise TooManyTasks(f"This session already has {len(active)} unfinished tasks (the limit is "
                               f"{self.rules.max_tasks_per_session}). Cancel or wait for one first.")
        if self.max_tasks_total is not None:
            total = len(self.store.list_tasks(statuses=ACTIVE, limit=self.max_tasks_total + 1))
            if total >= self.max_tasks_total:
                raise TooManyTasks(f"The console is busy ({total} unfinished tasks across all visitors). "
                                   "Try again in a minute.")

    # ------------------------------------------------------------------ foreground (QUICK / URGENT)

    def _run_foreground(self, task_id: str, sess: str | None) -> Iterator[str]:
        policy = self.rules.interruption
        interrupted = []
        with self._lock:
            running_here = [t for t, s in self._running.items() if s == sess]
        if running_here and policy == "interrupt":
            for other in running_here:
                if self._request_stop(other, "interrupted", by=task_id, wait=1.0):
                    interrupted.append(other)
        elif running_here and policy == "queue":
            self._event(task_id, EventKind.QUEUED,
                        f"waiting for {len(running_here)} running task(s) (policy: queue)")
            for other in running_here:
                self._wait_final_or_paused(other, timeout=self.router.settings.deadline)
        try:
            yield from self._execute(task_id)
        except Exception:
            self._release(task_id)      # e.g. a StoreError: stop renewing its lease, so recovery takes it over
            raise
        finally:
            for other in interrupted:
                self._auto_resume(other, by=task_id)

    # ------------------------------------------------------------------ background workers

    def _enqueue(self, task_id: str, control: _Control, key_source: str | None) -> None:
        """The task (queued, leased here) waits for a worker. When nothing it needs lives only in this
        process (its keys are shared or demo, it has no request options), any replica's worker may take
        it: the lease goes. A worker here is woken either way, so it usually starts here at once."""
        if key_source in CARRIED_ON and not control.options and self.store.update_task(
                task_id, owner=None, lease_until=None, expect_status=("queued",), expect_owner=self.owner_id):
            with self._lock:
                if task_id not in self._running:
                    self._controls.pop(task_id, None)       # its route is in the checkpoint
        else:
            with self._lock:
                self._queued_here.add(task_id)
        self._wake_workers()

    def _wake_workers(self, n: int = 1) -> None:
        with self._work:
            self._wakeups = min(len(self._workers), self._wakeups + n)
            self._work.notify(n)

    def _wait_for_work(self) -> None:
        """Until a submit or resume here wakes this worker, or `heartbeat_s` passes (another replica's
        queued task, a lease that ran out)."""
        with self._work:
            if not self._wakeups and not self._closing:
                self._work.wait(self.heartbeat_s)
            self._wakeups = max(0, self._wakeups - 1)

    def _claim_next(self) -> str | None:
        with self._lock:
            sessions, held = list(self._session_keys), list(self._queued_here)
        task_id = self.store.claim_next_task(owner=self.owner_id, lease_s=self.lease_s, sessions=sessions, held=held)
        with self._lock:
            self._queued_here.discard(task_id)
        return task_id

    def _worker(self) -> None:
        while not self._closing:
            task_id = None
            try:
                task_id = self._claim_next()
                if task_id is None:
                    self._wait_for_work()
                    continue
                if self._closing:       # claimed as shutdown began: back to the queue, for any replica
                    self.store.update_task(task_id, status="queued", owner=None, lease_until=None,
                                           expect_status=("running",), expect_owner=self.owner_id)
                    continue
                row = self.store.get_task(task_id)
                with self._lock:
                    self._running[task_id] = row["session"]
                for _ in self._execute(task_id, claimed=True):
                    pass
            except Exception as e:     # a worker must survive anything one task does
                if task_id is None:     # no claim: the database is failing; try again after a beat
                    log.warning("manager worker could not claim a task: %s", e)
                    self._wait_for_work()
                    continue
                log.exception("worker failed on task %s", task_id)
                self._release(task_id)      # its lease then expires and recovery carries it on
            finally:
                if task_id:
                    with self._lock:
                        self._running.pop(task_id, None)

    # ------------------------------------------------------------------ running one task

    def _execute(self, task_id: str, *, claimed: bool = False) -> Iterator[str]:
        """Stream the task through the router, honouring stop requests at chunk boundaries. `claimed`: a
        worker here already moved it to running (`store.claim_next_task`)."""
        row = self.store.get_task(task_id)
        if not claimed and not self.store.claim_task(task_id, owner=self.owner_id, lease_s=self.lease_s):
            return          # not queued any more, or queued by a live manager that holds its keys
        control = self._control_for(row)
        control.stop = None
        control.stopped.clear()
        checkpoint = row["checkpoint"] or {}
        partial = checkpoint.get("partial_text", "")
        messages = list(checkpoint.get("messages") or control.messages)
        resumed = bool(partial)
        if resumed:
            messages = [*messages, {"role": "assistant", "content": partial}]
            self._event(task_id, EventKind.RESUMED, f"continuing from {len(partial)} characters",
                        partial_chars=len(partial), provider=checkpoint.get("provider"))
        self._event(task_id, EventKind.STARTED, "running", label=row["label"])
        provider, model_map = self._route_of(row, control)

        def on_attempt(a: Attempt) -> None:
            if a.outcome != "ok":
                self._event(task_id, EventKind.ATTEMPT_FAILED, f"{a.provider}/{a.model}: {a.outcome}"
                            + (f" (HTTP {a.http_status})" if a.http_status else ""),
                            provider=a.provider, model=a.model, outcome=a.outcome, http_status=a.http_status,
                            latency_ms=a.latency_ms, key_source=a.key_source)

        try:
            stream = self.router.stream(messages, model=model_map, provider=provider,
                                        prefer=control.prefer, keys=control.keys, session_hash=row["session"],
                                        overrides=control.overrides, **(control.options or {}),
                                        task_id=task_id, label=row["label"], on_attempt=on_attempt)
        except AllProvidersFailed as e:
            self._finish_failed(task_id, str(e), partial)
            return
        text = partial
        last_save = time.monotonic()
        chunks: queue.Queue = queue.Queue()
        halt = threading.Event()
        reader = threading.Thread(target=_pump, args=(stream, chunks, halt), daemon=True, name=f"reader-{task_id}")
        reader.start()
        announced = False
        try:
            while True:
                if control.stop:
                    stream_stop = control.stop
                    halt.set()      # the reader closes the stream (and its connection) at its next chunk
                    self._stopped(task_id, control, stream_stop, text, messages[:-1] if resumed else messages,
                                  stream.provider, stream.model)
                    return
                try:
                    kind, value = chunks.get(timeout=PAUSE_POLL_S)
                except queue.Empty:
                    continue
                if kind == "chunk":
                    if not announced and stream.provider:
                        announced = True
                        self.store.update_task(task_id, provider=stream.provider, model=stream.model,
                                               expect_owner=self.owner_id)
                        if any(a.outcome != "ok" for a in stream.attempts):
                            self._event(task_id, EventKind.FELL_BACK, f"answered by {stream.provider}/{stream.model}"
                                        f" after {sum(a.outcome != 'ok' for a in stream.attempts)} failed attempt(s)",
                                        provider=stream.provider, model=stream.model)
                    text += value
                    yield value
                    if time.monotonic() - last_save >= PROGRESS_EVERY_S:
                        last_save = time.monotonic()
                        if not self._save(task_id, checkpoint=self._checkpoint(
                                control, messages[:-1] if resumed else messages, text, stream.provider, stream.model)):
                            halt.set()
                            self._lost_lease(task_id)
                            return
                elif kind == "end":
                    result = stream.result
                    if not self._save(task_id, status="done", result=text, provider=result.provider,
                                      model=result.model, checkpoint=None, expect_status=("running",)):
                        self._lost_lease(task_id)
                        return
                    self._event(task_id, EventKind.DONE,
                                f"{len(text)} characters from {result.provider}/{result.model}",
                                provider=result.provider, model=result.model, latency_ms=result.latency_ms,
                                ttft_ms=result.ttft_ms, key_source=result.key_source,
                                tokens_out=result.usage.tokens_out, cost_usd=result.usage.cost_usd)
                    self._release(task_id)
                    return
                else:   # error
                    if isinstance(value, StreamInterrupted):
                        text_so_far = text
                        if self._save(task_id, status="failed", error=str(value), checkpoint=self._checkpoint(
                                control, messages[:-1] if resumed else messages, text_so_far, stream.provider, stream.model),
                                expect_status=("running",)):
                            self._event(task_id, EventKind.FAILED, str(value).splitlines()[0],
                                        partial_chars=len(text_so_far))
                        self._release(task_id)
                    else:
                        self._finish_failed(task_id, str(value), text)
                    return
        except GeneratorExit:
            # The reader went away mid-answer (a new message, a closed tab, a rerun): end the task here,
            # with what it said so far as its checkpoint, so it never stays `running` with nobody running it.
            halt.set()
            self._stopped(task_id, control, "cancelled", text, messages[:-1] if resumed else messages,
                          stream.provider, stream.model, why="the page reading the answer went away")
            raise

    def _finish_failed(self, task_id: str, error: str, partial: str) -> None:
        if self._save(task_id, status="failed", error=error, result=partial or None, expect_status=("running",)):
            self._event(task_id, EventKind.FAILED, error.splitlines()[0], error=error)
        self._release(task_id)

    def _lost_lease(self, task_id: str) -> None:
        """Another manager took this task over (our heartbeat stalled past the lease): stop without writing."""
        log.warning("task %s: lease lost to another manager; this worker stops", task_id)
        self._release(task_id)

    def _save(self, task_id: str, **fields: Any) -> bool:
        """`store.update_task` with the result, error and checkpoint redacted of every key in play, and only
        while this manager owns the task (False when another one has taken it over)."""
        control = self._controls.get(task_id)
        secrets = [*(control.keys.values() if control else ()), *(p.config.api_key for p in self.router.providers.values())]
        for name in ("result", "error", "checkpoint"):
            if fields.get(name) is not None:
                fields[name] = redact_value(fields[name], secrets)
        return self.store.update_task(task_id, expect_owner=self.owner_id, **fields)

    @staticmethod
    def _checkpoint(control: _Control, messages, partial: str, provider: str | None,
                    model: str | None) -> dict[str, Any]:
        return {"messages": messages, "partial_text": partial, "provider": provider, "model": model,
                "route": control.route()}

    def _stopped(self, task_id: str, control: _Control, reason: str, text: str, messages, provider, model, *,
                 why: str | None = None) -> None:
        checkpoint = self._checkpoint(control, messages, text, provider, model)
        if reason == "cancelled":
            if self._save(task_id, status="cancelled", checkpoint=checkpoint, expect_status=("running",)):
                self._event(task_id, EventKind.CANCELLED, f"cancelled after {len(text)} characters"
                            + (f": {why}" if why else ""), partial_chars=len(text))
            self._release(task_id)
        elif not self._save(task_id, status="paused", checkpoint=checkpoint, expect_status=("running",)):
            self._lost_lease(task_id)
        else:
            if reason == "interrupted":
                self._event(task_id, EventKind.INTERRUPTED, f"paused for task {control.interrupted_by}",
                            interrupted_by=control.interrupted_by)
            else:
                self._event(task_id, EventKind.PAUSED, "paused by the user")
            self._event(task_id, EventKind.CHECKPOINTED, f"saved {len(text)} characters",
                        partial_chars=len(text), provider=provider, model=model)
        control.stopped.set()
        with self._changed:
            self._changed.notify_all()

    def _release(self, task_id: str) -> None:
        with self._changed:
            control = self._controls.pop(task_id, None)      # the keys go with it
            if control:
                control.stopped.set()
            self._changed.notify_all()

    def _control_for(self, row: dict[str, Any]) -> _Control:
        """The task's in-memory state here; built from its checkpoint when another manager queued it, with
        the keys its session last gave this manager when it runs on a session's own keys."""
        with self._lock:
            control = self._controls.get(row["id"])
            if control is None:
                checkpoint = row["checkpoint"] or {}
                route = checkpoint.get("route") or {}
                messages = checkpoint.get("messages") or [{"role": "user", "content": row["prompt"]}]
                keys = {} if row.get("key_source") in CARRIED_ON else self._session_keys.get(row["session"], {})
                control = self._controls[row["id"]] = _Control(
                    messages, dict(keys), route.get("provider"), None, route.get("models"), route.get("prefer"),
                    route.get("overrides"))
            return control

    def _route_of(self, row: dict[str, Any], control: _Control) -> tuple[str | None, dict[str, str]]:
        """The provider pin and models a run of this task uses: a resumed one stays on the provider and
        model that wrote its partial text, so the continuation reads as one answer."""
        checkpoint = row["checkpoint"] or {}
        resumed = bool(checkpoint.get("partial_text"))
        provider = checkpoint.get("provider") if resumed else control.provider
        model_map = control.model_map or self.rules.models_for(row["label"] or "QUICK", self._provider_configs())
        if resumed and checkpoint.get("provider") and checkpoint.get("model"):
            model_map = {**model_map, checkpoint["provider"]: checkpoint["model"]}
        return provider, model_map

    def _key_source_of(self, row: dict[str, Any], control: _Control) -> str | None:
        """Whose keys the task's next run would use, from its plan with the keys it holds now."""
        provider, model_map = self._route_of(row, control)
        try:
            return _key_source(self.router.plan(model=model_map, provider=provider, prefer=control.prefer,
                                                keys=control.keys, overrides=control.overrides))
        except AllProvidersFailed:      # the run itself says why, as a failed task
            return row.get("key_source")

    # ------------------------------------------------------------------ pause / resume / cancel

    def _request_stop(self, task_id: str, reason: str, *, by: str | None = None, wait: float = 1.0) -> bool:
        with self._lock:
            control = self._controls.get(task_id)
            running = task_id in self._running
        if control is None or not running:
            return False
        control.interrupted_by = by
        control.stop = reason
        started = time.monotonic()
        ok = control.stopped.wait(wait)
        if ok and reason == "interrupted":
            log.info("task %s paused in %.0f ms", task_id, (time.monotonic() - started) * 1000)
        return ok

    def _stop(self, task_id: str, reason: str, *, wait: float) -> None:
        """Pause or cancel a running task wherever it runs: here, by its control; on another replica (any
        worker may have claimed it), through the database, which that replica's heartbeat reads. Waits
        up to `wait` (plus a heartbeat when it runs elsewhere) for it to stop."""
        with self._lock:
            here = task_id in self._running
        if here:
            self._request_stop(task_id, reason, wait=wait)
        elif self.store.request_stop(task_id, reason):
            deadline = time.monotonic() + wait + self.heartbeat_s
            while time.monotonic() < deadline:
                row = self.store.get_task(task_id)
                if row is None or row["status"] != "running":
                    return
                time.sleep(0.05)

    def _take_stop_requests(self) -> None:
        """The heartbeat's part of `_stop`: the stops other replicas asked of the tasks running here."""
        for task_id, reason in self.store.take_stop_requests(self.owner_id):
            if reason in ("paused", "cancelled"):
                self._request_stop(task_id, reason, wait=0)

    def pause(self, task_id: str) -> Task:
        row = self.store.get_task(task_id)
        if row and row["status"] == "queued":
            self.store.update_task(task_id, status="paused", expect_status=("queued",))
            self._event(task_id, EventKind.PAUSED, "paused before it started")
        elif row and row["status"] == "running":
            self._stop(task_id, "paused", wait=2.0)
        return self.get(task_id)

    def resume(self, task_id: str, keys: Mapping[str, str] | None = None,
               overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Task:
        """Put a paused task back in the queue; `keys` and `overrides` are the session's own (never stored).
        Given keys, it runs on them; else on those it had here, or those its session last gave this manager.
        Its key source is decided again from that."""
        row = self.store.get_task(task_id)
        if row is None or row["status"] != "paused":
            return self.get(task_id)
        control = self._control_for(row)
        if keys is not None:
            control.keys = {k: v for k, v in keys.items() if v}
        if overrides is not None:
            control.overrides = {k: dict(v) for k, v in overrides.items()}
        key_source = self._key_source_of(row, control)
        checkpoint = {k: v for k, v in (row["checkpoint"] or {}).items() if k != "needs_keys"}
        if self.store.update_task(task_id, status="queued", expect_status=("paused",), owner=self.owner_id,
                                  lease_until=self.store.clock() + self.lease_s, key_source=key_source,
                                  checkpoint={**checkpoint, "route": control.route()}):
            if control.keys:
                self.give_keys(row["session"], control.keys, hashed=True, resume_waiting=False)
            self._enqueue(task_id, control, key_source)
        return self.get(task_id)

    def give_keys(self, session: str | None, keys: Mapping[str, str] | None, *, hashed: bool = False,
                  resume_waiting: bool = True) -> list[str]:
        """A session's own keys as it gives them now, kept in this process's memory only while the session
        has unfinished tasks (never stored): its tasks that wait for keys (their manager stopped while they
        ran on them) continue here at once, and its tasks whose manager stops later may continue here.
        Returns the ids of the tasks it resumed."""
        sess = session if hashed else session_hash(session)
        keys = {k: v for k, v in (keys or {}).items() if v}
        if not sess or not keys:
            return []
        with self._lock:
            self._session_keys[sess] = keys
            self._session_keys.move_to_end(sess)
            while len(self._session_keys) > HELD_SESSIONS:
                self._session_keys.popitem(last=False)
        if not resume_waiting:
            return []
        return self._resume_waiting(self.store.list_tasks(session=sess, statuses=("paused",)))

    def _resume_waiting(self, rows: list[dict[str, Any]]) -> list[str]:
        """Resume the paused tasks among `rows` that wait for their session's keys, where this manager holds them."""
        resumed = []
        for row in rows:
            keys = self._session_keys.get(row["session"])
            if row["status"] != "paused" or not (row["checkpoint"] or {}).get("needs_keys") or not keys:
                continue
            self._event(row["id"], EventKind.AUTO_RESUME, "the session gave its own keys here: resuming",
                        keys_given=True)
            if self.resume(row["id"], keys).status != "paused":
                resumed.append(row["id"])
        return resumed

    def _auto_resume(self, task_id: str, by: str) -> None:
        row = self.store.get_task(task_id)
        if row and row["status"] == "paused":
            self._event(task_id, EventKind.AUTO_RESUME, f"task {by} has ended: resuming", interrupted_by=by)
            self.resume(task_id)

    def cancel(self, task_id: str) -> Task:
        row = self.store.get_task(task_id)
        if row and row["status"] in ("queued", "paused"):
            if self.store.update_task(task_id, status="cancelled", expect_status=("queued", "paused")):
                self._event(task_id, EventKind.CANCELLED, "cancelled before it finished")
                self._release(task_id)
        elif row and row["status"] == "running":
            self._stop(task_id, "cancelled", wait=2.0)
        return self.get(task_id)

    # ------------------------------------------------------------------ reading

    def get(self, task_id: str) -> Task | None:
        row = self.store.get_task(task_id)
        return Task.from_row(row) if row else None

    def list(self, session: str | None = None, *, hashed: bool = False, limit: int = 50) -> list[Task]:
        sess = session if hashed else session_hash(session)
        rows = self.store.list_tasks(session=sess, limit=limit) if session else self.store.list_tasks(limit=limit)
        return [Task.from_row(r) for r in rows]

    def wait(self, task_id: str, timeout: float = 30.0, statuses: tuple[str, ...] = FINAL) -> Task:
        """Block until the task reaches one of `statuses` (default: finished); returns it either way."""
        deadline = time.monotonic() + timeout
        while True:
            task = self.get(task_id)
            if task is None or task.status in statuses or time.monotonic() >= deadline:
                return task
            with self._changed:
                self._changed.wait(min(0.05, max(0.0, deadline - time.monotonic())))

    def _wait_final_or_paused(self, task_id: str, timeout: float) -> None:
        self.wait(task_id, timeout, statuses=(*FINAL, "paused"))

    def _event(self, task_id: str, kind: EventKind, message: str, **data: Any) -> None:
        self.store.log_event(kind, message, task_id=task_id, data=data)

    # ------------------------------------------------------------------ lifecycle

    def _recover(self) -> None:
        """At start, and on every heartbeat: take over the tasks whose manager died (expired leases only; a
        live manager's tasks are never touched) and carry them on from their checkpoint. Streamed attempts
        still `started` past the deadline were cut off by the crash: they become `stream_error` rows."""
        self.store.close_stale_attempts(time.time() - self.router.settings.deadline - self.lease_s)
        carried = sum(self._take_over(row) for row in self.store.expired_tasks(("running", "queued")))
        if carried:
            self._wake_workers(carried)

    def _take_over(self, row: dict[str, Any]) -> bool:
        """One task whose manager died. On shared or demo keys it is queued again for any replica; on its
        session's own keys it is queued here when this manager holds them, else paused with the reason
        (those keys died with that process). True when it is queued to continue."""
        task_id, was, source = row["id"], row["status"], row.get("key_source")
        checkpoint = row["checkpoint"] or {}
        partial = checkpoint.get("partial_text", "")
        if was == "running" and row.get("stop_request") in ("paused", "cancelled"):
            return self._take_over_stopped(row, row["stop_request"], partial)
        if was == "queued" and source in CARRIED_ON:
            return True                 # anyone's already: the next worker to look claims it
        if source in CARRIED_ON or row["session"] in self._session_keys:
            owner = None if source in CARRIED_ON else self.owner_id
            if not self.store.take_over_task(task_id, status="queued", from_status=was, owner=owner,
                                             lease_s=self.lease_s):
                return False
            if owner:
                self._control_for(row)          # holds the session's keys; the heartbeat renews its lease
                with self._lock:
                    self._queued_here.add(task_id)
            if was == "running":
                self._event(task_id, EventKind.RECOVERED, f"was running when its manager stopped: continues "
                            f"from {len(partial)} characters", partial_chars=len(partial),
                            previous_owner=row.get("owner"), carried_on=True)
            return True
        reason = waiting_reason(source)
        if self.store.take_over_task(task_id, status="paused", from_status=was, owner=None,
                                     checkpoint={**checkpoint, "needs_keys": True}):
            self._event(task_id, EventKind.RECOVERED, f"was {was} when its manager stopped: paused at "
                        f"{len(partial)} characters; {reason}", partial_chars=len(partial),
                        previous_owner=row.get("owner"), reason=reason)
        return False

    def _take_over_stopped(self, row: dict[str, Any], reason: str, partial: str) -> bool:
        """A task whose manager died after someone asked to pause or cancel it: it ends as they asked, with
        its checkpoint kept (a paused one resumes from it). Never queued to continue."""
        if self.store.take_over_task(row["id"], status=reason, from_status="running", owner=None, stop_request=None):
            words = f"{reason} as asked, after its manager stopped, at {len(partial)} characters"
            if reason == "paused":
                self._event(row["id"], EventKind.PAUSED, words, partial_chars=len(partial), previous_owner=row.get("owner"))
            else:
                self._event(row["id"], EventKind.CANCELLED, words, partial_chars=len(partial),
                            previous_owner=row.get("owner"))
        return False

    def _forget_dequeued(self) -> None:
        """Tasks queued here that left the queue another way (cancelled or paused from another replica)."""
        with self._lock:
            queued = list(self._queued_here)
        for task_id in queued:
            row = self.store.get_task(task_id)
            if row is None or row["status"] != "queued" or row["owner"] != self.owner_id:
                with self._lock:
                    self._queued_here.discard(task_id)

    def _tend_held_keys(self) -> None:
        """Forget the keys of sessions with no unfinished task left, and carry on the tasks of the others
        that wait for keys (another replica paused them before this one, which holds the keys, came by)."""
        with self._lock:
            held = list(self._session_keys)
        if not held:
            return
        rows = self.store.list_tasks(sessions=held, statuses=ACTIVE, limit=100_000)
        unfinished = {r["session"] for r in rows}
        with self._lock:
            for sess in held:
                if sess not in unfinished:
                    self._session_keys.pop(sess, None)
        self._resume_waiting(rows)

    def _heartbeat(self) -> None:
        """Renew the leases of the tasks this manager holds keys for, then take over expired ones."""
        while not self._beat_stop.wait(self.heartbeat_s):
            try:
                with self._lock:
                    held = list(self._controls)
                self.store.renew_leases(self.owner_id, held, lease_s=self.lease_s)
                self._take_stop_requests()
                self._recover()
                self._tend_held_keys()
                self._forget_dequeued()
            except StoreError as e:     # the database is failing: keep beating, the banner says why
                log.warning("manager heartbeat: %s", e)
            except Exception:           # a heartbeat that dies would let its running tasks be taken over
                log.exception("manager heartbeat failed")

    def shutdown(self, timeout: float = 5.0) -> None:
        """Checkpoint running tasks (they come back paused), stop the workers and give up every lease."""
        self._closing = True
        with self._lock:
            running = list(self._running)
        for task_id in running:
            self._request_stop(task_id, "paused", wait=timeout)
        with self._work:
            self._work.notify_all()
        for w in self._workers:
            w.join(timeout)
        self._beat_stop.set()
        self._beat.join(timeout)
        try:
            self.store.release_leases(self.owner_id)
        except StoreError as e:         # the leases then expire by themselves
            log.warning("manager shutdown could not release its leases: %s", e)


def _key_source(plan) -> str:
    """A task's key source from its plan: `byok` when any call may use the session's own keys (so only a
    process holding them may carry it on), else `shared`, or `demo` when only the demo model answers."""
    sources = {c.key_source for c in plan}
    return "byok" if "byok" in sources else "shared" if "shared" in sources else "demo"


def waiting_reason(key_source: str | None) -> str:
    """Why a task whose manager stopped waits here, paused, in words for its card and the decision log."""
    if key_source == "byok":
        return ("it runs on your own keys, which lived in the console process that stopped; resume it to "
                "continue with the keys you give now, or it continues by itself once you are back with your keys")
    return ("it was started before the console recorded whose keys a task runs on; resume it to continue "
            "with the keys you give now")


def _pump(stream, chunks: queue.Queue, halt: threading.Event) -> None:
    """Read the router stream on its own thread, so a pause never waits for a slow provider's next chunk."""
    try:
        for chunk in stream:
            if halt.is_set():
                stream.close()
                return
            chunks.put(("chunk", chunk))
        chunks.put(("end", None))
    except Exception as e:   # StreamInterrupted, AllProvidersFailed
        chunks.put(("error", e))
