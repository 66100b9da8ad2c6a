"""The manager agent: classify each request, pick a model tier, keep a task queue, and pre-empt a
long task for a quick one (pause at a chunk boundary → checkpoint → answer → resume by continuation).

    manager = Manager(router)
    task = manager.submit("Write a report on GPU prices", session="abc")   # COMPLEX: returns at once
    quick = manager.submit("What's 2+2?", session="abc")                    # QUICK: answered before returning
    manager.wait(task.id, timeout=30).result

The `tasks` table is the source of truth: every status change is written before `get` can report
it, and every decision is an `events` row. BYOK keys stay in this process's memory for the life of
the task and are never persisted; a task resumed after a restart uses the keys its session gives again.

One owner per task: each manager has an `owner_id` (host:pid:random) and leases the tasks it queued or
runs (`lease_s`, renewed every `heartbeat_s` by its heartbeat thread). Every write of a running task is
conditional on still owning it; a worker whose lease was taken stops quietly. Another manager (in this
process or another one on the same database) takes over only expired leases, i.e. tasks whose manager
died: running ones come back paused with their checkpoint, as after a restart, and wait for their session
to resume them with its own keys (which died with the old process); queued ones are queued again.
"""

from __future__ import annotations

import itertools
import logging
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.agent.classifier import Classification, Label, classify
from core.agent.rules import RoutingRules, load_rules
from core.errors import AllProvidersFailed, SpacesOSError, StoreError, StreamInterrupted
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

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Task:
        return cls(row["id"], row["session"], row["prompt"], row["label"], row["confidence"],
                   row["reasons"] or [], row["provider"], row["model"], row["status"], row["checkpoint"],
                   row["result"], row["error"], row["created_at"], row["updated_at"])

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
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._seq = itertools.count()
        self._closing = False
        self._workers = [threading.Thread(target=self._worker, name=f"manager-worker-{i}", daemon=True)
                         for i in range(workers or self.rules.workers)]
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
        self.store.update_task(task_id, provider=first.name if first else None, model=first.model if first else None)
        self._event(task_id, EventKind.ROUTED,
                    f"{c.label.value} → {self.rules.tier_of(c.label.value)} tier: "
                    + " → ".join(f"{x.name}/{x.model}" for x in plan[:4]),
                    label=c.label.value, tier=self.rules.tier_of(c.label.value),
                    plan=[{"provider": x.name, "model": x.model, "key_source": x.key_source} for x in plan])
        if c.label == Label.COMPLEX:
            self._enqueue(task_id, priority=1)
            return self.get(task_id), iter(())
        return self.get(task_id), self._run_foreground(task_id, sess)

    def _check_session_limit(self, sess: str | None) -> None:
        active = self.store.list_tasks(session=sess, statuses=ACTIVE, limit=1000)
        if len(active) >= self.rules.max_tasks_per_session:
            raise SpacesOSError(f"This session already has {len(active)} unfinished tasks (the limit is "
                                f"{self.rules.max_tasks_per_session}). Cancel or wait for one first.")
        if self.max_tasks_total is not None:
            total = len(self.store.list_tasks(statuses=ACTIVE, limit=self.max_tasks_total + 1))
            if total >= self.max_tasks_total:
                raise SpacesOSError(f"The console is busy ({total} unfinished tasks across all visitors). "
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

    def _enqueue(self, task_id: str, priority: int) -> None:
        self._queue.put((priority, next(self._seq), task_id))

    def _worker(self) -> None:
        while True:
            _, _, task_id = self._queue.get()
            if task_id is None:
                return
            try:
                row = self.store.get_task(task_id)
                if row is None or row["status"] != "queued" or self._closing:
                    continue
                sess = row["session"]
                with self._lock:
                    self._running[task_id] = sess
                for _ in self._execute(task_id):
                    pass
            except Exception:     # a worker must survive anything one task does
                log.exception("worker failed on task %s", task_id)
                self._release(task_id)      # its lease then expires and recovery pauses it with its checkpoint
            finally:
                with self._lock:
                    self._running.pop(task_id, None)

    # ------------------------------------------------------------------ running one task

    def _execute(self, task_id: str) -> Iterator[str]:
        """Stream the task through the router, honouring stop requests at chunk boundaries."""
        row = self.store.get_task(task_id)
        if not self.store.claim_task(task_id, owner=self.owner_id, lease_s=self.lease_s):
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
        provider = checkpoint.get("provider") if resumed else control.provider
        model_map = control.model_map or self.rules.models_for(row["label"] or "QUICK",
                                                                                 self._provider_configs())
        if resumed and checkpoint.get("provider") and checkpoint.get("model"):
            model_map = {**model_map, checkpoint["provider"]: checkpoint["model"]}

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
                                messages[:-1] if resumed else messages, text, stream.provider, stream.model)):
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
                                messages[:-1] if resumed else messages, text_so_far, stream.provider, stream.model),
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
    def _checkpoint(messages, partial: str, provider: str | None, model: str | None) -> dict[str, Any]:
        return {"messages": messages, "partial_text": partial, "provider": provider, "model": model}

    def _stopped(self, task_id: str, control: _Control, reason: str, text: str, messages, provider, model, *,
                 why: str | None = None) -> None:
        checkpoint = self._checkpoint(messages, text, provider, model)
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
        with self._lock:
            control = self._controls.get(row["id"])
            if control is None:
                messages = (row["checkpoint"] or {}).get("messages") or [{"role": "user", "content": row["prompt"]}]
                control = self._controls[row["id"]] = _Control(messages)
            return control

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

    def pause(self, task_id: str) -> Task:
        row = self.store.get_task(task_id)
        if row and row["status"] == "queued":
            self.store.update_task(task_id, status="paused", expect_status=("queued",))
            self._event(task_id, EventKind.PAUSED, "paused before it started")
        elif row and row["status"] == "running":
            self._request_stop(task_id, "paused", wait=2.0)
        return self.get(task_id)

    def resume(self, task_id: str, keys: Mapping[str, str] | None = None,
               overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Task:
        """Put a paused task back in the queue; `keys` and `overrides` are the session's own (never stored)."""
        row = self.store.get_task(task_id)
        if row is None or row["status"] != "paused":
            return self.get(task_id)
        control = self._control_for(row)
        if keys is not None:
            control.keys = {k: v for k, v in keys.items() if v}
        if overrides is not None:
            control.overrides = {k: dict(v) for k, v in overrides.items()}
        if self.store.update_task(task_id, status="queued", expect_status=("paused",), owner=self.owner_id,
                                  lease_until=self.store.clock() + self.lease_s):
            self._enqueue(task_id, priority=0)
        return self.get(task_id)

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
            self._request_stop(task_id, "cancelled", wait=2.0)
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
        """At start, and on every heartbeat: take over the tasks whose manager died (expired leases only;
        a live manager's tasks are never touched). Running ones come back paused with their last checkpoint:
        their BYOK keys died with that process, so the session resumes them with its own keys instead of
        this manager re-running them on the shared ones. Queued ones are queued here. Streamed attempts
        still `started` past the deadline were cut off by the crash: they become `stream_error` rows."""
        self.store.close_stale_attempts(time.time() - self.router.settings.deadline - self.lease_s)
        for row in self.store.expired_tasks(("running",)):
            if self.store.take_over_task(row["id"], status="paused", from_status="running", owner=None):
                partial = (row["checkpoint"] or {}).get("partial_text", "")
                self._event(row["id"], EventKind.RECOVERED,
                            f"was running when its manager stopped: paused at {len(partial)} characters",
                            partial_chars=len(partial), previous_owner=row.get("owner"))
        for row in self.store.expired_tasks(("queued",)):
            if self.store.take_over_task(row["id"], status="queued", from_status="queued", owner=self.owner_id,
                                         lease_s=self.lease_s):
                self._enqueue(row["id"], priority=1)

    def _heartbeat(self) -> None:
        """Renew the leases of the tasks this manager holds keys for, then take over expired ones."""
        while not self._beat_stop.wait(self.heartbeat_s):
            try:
                with self._lock:
                    held = list(self._controls)
                self.store.renew_leases(self.owner_id, held, lease_s=self.lease_s)
                self._recover()
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
        for _ in self._workers:
            self._queue.put((99, next(self._seq), None))
        for w in self._workers:
            w.join(timeout)
        self._beat_stop.set()
        self._beat.join(timeout)
        try:
            self.store.release_leases(self.owner_id)
        except StoreError as e:         # the leases then expire by themselves
            log.warning("manager shutdown could not release its leases: %s", e)


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
