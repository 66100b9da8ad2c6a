"""A small workflow engine: named steps run in order, each one's state persisted as it happens.

Every run is a `workflow_runs` row and every step a `workflow_steps` row (status, attempts, an inputs
digest, outputs as JSON, progress notes, error, timings). That makes a run:

* followable live: `run(..., on_event=callback)` calls back on every step event (the page renders
  `st.status`), and `state(run_id)` rebuilds the same picture from the rows after a reload;
* resumable: `run(run_id)` on a new engine (after a restart) reuses the stored outputs of the steps
  already done (their inputs unchanged) and goes on from the first unfinished one; a step that was
  cut off gets its last `ctx.checkpoint(...)` back as `ctx.saved`, so steps are written idempotently;
* stoppable on purpose: a step raising `StopRun` ends the run `stopped` (e.g. a dry run), resumable;
* undoable: `rollback(run_id, undo)` calls `undo(state)` (e.g. delete the Space it created).

    flow = Workflow("build_space", [Step("plan", "Plan", plan_fn), Step("make", "Make", make_fn, needs=("plan",))],
                    store)
    run_id = flow.create({"idea": "a sentiment demo"})
    state = flow.run(run_id, on_event=print)      # state.status: done | failed | stopped

A step function takes a `StepContext` and returns a JSON-ready dict (or `StepResult` to mark it skipped).
Keys never go into inputs, outputs or errors: errors are redacted with the engine's `secrets()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.errors import BuildError, SpacesOSError
from core.llm.keys import redact

log = logging.getLogger("spaces_os.workflow")

RESUMABLE = ("pending", "running", "failed", "stopped")    # `running` is left behind by a crash
FINISHED_STEP = ("done", "skipped")
MAX_ERROR = 1000

# Runs executing in this process, by (database, run id): two engines on one DB must not run one run twice.
_ACTIVE: set[tuple[str, str]] = set()
_ACTIVE_LOCK = threading.Lock()


class WorkflowError(BuildError):
    """A run can't be found, or is busy in this process."""


class StepFailed(BuildError):
    """A step's failure in plain words, for the operator (no traceback is logged)."""


class StopRun(BuildError):  # noqa: N818 - a signal, not an error
    """Raised by a step to end the run early on purpose; the run is `stopped` and can be resumed later."""

    def __init__(self, message: str, outputs: dict[str, Any] | None = None):
        self.message = message
        self.outputs = outputs or {}
        super().__init__(message)


@dataclass
class StepResult:
    """What a step returns when it wants to say more than its outputs: e.g. `status="skipped"`."""

    outputs: dict[str, Any]
    status: str = "done"            # done | skipped
    message: str = ""


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    fn: Callable[[StepContext], dict[str, Any] | StepResult]
    needs: tuple[str, ...] = ()      # earlier steps whose outputs it reads


@dataclass
class StepEvent:
    """One thing that happened in a run. `kind`: run_started | step_started | step_reused | progress |
    step_done | step_skipped | step_failed | step_stopped | run_done | run_failed | run_stopped."""

    run_id: str
    kind: str
    step: str | None = None
    title: str = ""
    position: int | None = None     # 0-based
    total: int = 0
    message: str = ""
    elapsed_s: float | None = None
    outputs: dict[str, Any] | None = None


@dataclass
class StepState:
    name: str
    title: str
    position: int
    status: str                     # pending | running | done | skipped | failed | stopped
    attempts: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)     # {"needs": [...], "digest": "..."}
    outputs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    duration_ms: float | None = None


@dataclass
class RunState:
    id: str
    workflow: str
    status: str                     # pending | running | done | failed | stopped | rolled_back
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    error: str | None
    current_step: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    steps: list[StepState]

    def step(self, name: str) -> StepState:
        return next(s for s in self.steps if s.name == name)

    @property
    def finished(self) -> bool:
        return self.status in ("done", "rolled_back")


class StepContext:
    """What a running step sees: the run's inputs, the outputs it `needs`, and its last checkpoint."""

    def __init__(self, engine: Workflow, run_id: str, step: Step, position: int, inputs: dict[str, Any],
                 outputs: dict[str, dict[str, Any]], saved: dict[str, Any], attempt: int,
                 emit: Callable[[StepEvent], None]):
        self.run_id = run_id
        self.step = step
        self.position = position
        self.inputs = inputs
        self.outputs = outputs
        self.saved = saved                # the checkpoint of an earlier, unfinished attempt ({} if none)
        self.attempt = attempt
        self._engine = engine
        self._emit = emit

    def checkpoint(self, outputs: dict[str, Any]) -> None:
        """Persist partial outputs now, so a retry after a crash can pick up from them (`ctx.saved`)."""
        self.saved = _roundtrip(outputs)
        self._engine.store.checkpoint_workflow_step(self.run_id, self.step.name, self.saved)

    def note(self, message: str) -> None:
        """A progress line: stored on the step and sent to the live callback."""
        message = self._engine.redact(message)[:500]
        self._engine.store.add_workflow_note(self.run_id, self.step.name, message)
        self._emit(StepEvent(self.run_id, "progress", self.step.name, self.step.title, self.position,
                             len(self._engine.steps), message))


class Workflow:
    """The engine for one workflow (an ordered list of steps) over a `core.store.Store`."""

    def __init__(self, name: str, steps: Iterable[Step], store: Any, *,
                 secrets: Callable[[], Iterable[str | None]] = tuple):
        self.name = name
        self.steps = list(steps)
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise ValueError("step names must be unique")
        for i, step in enumerate(self.steps):
            unknown = [n for n in step.needs if n not in names[:i]]
            if unknown:
                raise ValueError(f"step '{step.name}' needs {unknown}, which do not run before it")
        self.store = store
        self.secrets = secrets

    # ----- public

    def create(self, inputs: dict[str, Any], *, session: str | None = None, run_id: str | None = None) -> str:
        """Record a new pending run and return its id; nothing runs yet."""
        run_id = run_id or uuid.uuid4().hex[:12]
        self.store.create_workflow_run(run_id, self.name, session=session, inputs=_roundtrip(inputs))
        return run_id

    def state(self, run_id: str) -> RunState:
        row = self.store.get_workflow_run(run_id)
        if row is None or row["workflow"] != self.name:
            raise WorkflowError(f"There is no {self.name} run '{run_id}'.")
        rows = {r["name"]: r for r in self.store.workflow_steps(run_id)}
        steps = []
        for position, step in enumerate(self.steps):
            r = rows.get(step.name)
            steps.append(StepState(step.name, step.title, position, "pending") if r is None else StepState(
                step.name, step.title, position, r["status"], r["attempts"], _as_dict(r["inputs"]), _as_dict(r["outputs"]),
                list(r["notes"] or []) if isinstance(r["notes"], list) else [], r["error"], r["started_at"],
                r["finished_at"], r["duration_ms"]))
        return RunState(row["id"], row["workflow"], row["status"], _as_dict(row["inputs"]), _as_dict(row["outputs"]),
                        row["error"], row["current_step"], row["created_at"], row["started_at"],
                        row["finished_at"], steps)

    def is_active(self, run_id: str) -> bool:
        """True while this process is executing the run."""
        with _ACTIVE_LOCK:
            return (self._db_key, run_id) in _ACTIVE

    def run(self, run_id: str, *, on_event: Callable[[StepEvent], None] | None = None) -> RunState:
        """Run (or resume) until the run is done, failed or stopped; returns its state. Never raises for a
        step's failure (it is recorded); raises `WorkflowError` for an unknown or busy run."""
        with self._exclusive(run_id):
            state = self.state(run_id)
            if state.status not in RESUMABLE or not self.store.claim_workflow_run(run_id, RESUMABLE):
                return state
            emit = self._emitter(on_event)
            return self._execute(state, emit)

    def rollback(self, run_id: str, undo: Callable[[RunState], str]) -> RunState:
        """Undo what the run did through `undo(state)` (returns what it did, in words); the run becomes
        `rolled_back`. If `undo` raises, the run is left as it was and the error goes to the caller."""
        with self._exclusive(run_id):
            state = self.state(run_id)
            if state.status == "rolled_back":
                return state
            message = undo(state)
            self.store.update_workflow_run(run_id, status="rolled_back", outputs={**state.outputs,
                                           "rollback": message}, finished=True)
            return self.state(run_id)

    def redact(self, text: str) -> str:
        return redact(text, list(self.secrets()))

    # ----- internals

    @property
    def _db_key(self) -> str:
        return str(getattr(self.store, "path", id(self.store)))

    @contextlib.contextmanager
    def _exclusive(self, run_id: str) -> Iterator[None]:
        key = (self._db_key, run_id)
        with _ACTIVE_LOCK:
            if key in _ACTIVE:
                raise WorkflowError(f"Run '{run_id}' is already running in this process.")
            _ACTIVE.add(key)
        try:
            yield
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(key)

    def _emitter(self, on_event: Callable[[StepEvent], None] | None) -> Callable[[StepEvent], None]:
        def emit(event: StepEvent) -> None:
            if on_event is None:
                return
            try:
                on_event(event)
            except Exception:  # a broken display must not break the run; BaseException (a rerun) propagates
                log.warning("workflow event callback failed on %s", event.kind, exc_info=True)
        return emit

    def _execute(self, state: RunState, emit: Callable[[StepEvent], None]) -> RunState:
        run_id, total = state.id, len(self.steps)
        outputs: dict[str, dict[str, Any]] = {}
        finished = {s.name: s for s in state.steps if s.status in FINISHED_STEP}
        resumed = [s.title for s in state.steps if s.name in finished]
        emit(StepEvent(run_id, "run_started", total=total, message=(
            f"Resuming after: {', '.join(resumed)}." if resumed else "Started.")))
        for position, step in enumerate(self.steps):
            needed = {n: outputs.get(n, {}) for n in step.needs}
            digest = _digest(state.inputs, needed)
            previous = state.steps[position]
            if step.name in finished and previous.inputs.get("digest") == digest:
                outputs[step.name] = previous.outputs
                emit(StepEvent(run_id, "step_reused", step.name, step.title, position, total,
                               "Done earlier; its stored result is reused.", outputs=outputs[step.name]))
                continue
            saved = previous.outputs if previous.status in ("running", "failed", "stopped") else {}
            self.store.start_workflow_step(run_id, position, step.name, {"needs": list(step.needs),
                                                                         "digest": digest})
            emit(StepEvent(run_id, "step_started", step.name, step.title, position, total))
            ctx = StepContext(self, run_id, step, position, state.inputs, needed, saved, previous.attempts + 1, emit)
            started = time.perf_counter()
            try:
                result = step.fn(ctx)
            except StopRun as stop:
                kept = _roundtrip(stop.outputs)
                message = self.redact(stop.message)
                self.store.finish_workflow_step(run_id, step.name, "stopped", outputs=kept, error=None)
                self.store.update_workflow_run(run_id, status="stopped", outputs={"stopped_at": step.name,
                                               "message": message, **kept}, finished=True)
                emit(StepEvent(run_id, "step_stopped", step.name, step.title, position, total, message,
                               time.perf_counter() - started, kept))
                emit(StepEvent(run_id, "run_stopped", total=total, message=message))
                return self.state(run_id)
            except Exception as exc:
                message = self.redact(_describe(exc))[:MAX_ERROR]
                log.warning("workflow %s run %s: step %s failed: %s", self.name, run_id, step.name, message,
                            exc_info=not _expected(exc))
                self.store.finish_workflow_step(run_id, step.name, "failed", error=message)
                self.store.update_workflow_run(run_id, status="failed", error=f"{step.title}: {message}",
                                               finished=True)
                emit(StepEvent(run_id, "step_failed", step.name, step.title, position, total, message,
                               time.perf_counter() - started))
                emit(StepEvent(run_id, "run_failed", total=total, message=f"{step.title}: {message}"))
                return self.state(run_id)
            if not isinstance(result, StepResult):
                result = StepResult(result)
            public = _roundtrip(result.outputs)
            outputs[step.name] = public
            self.store.finish_workflow_step(run_id, step.name, result.status, outputs=public)
            emit(StepEvent(run_id, f"step_{result.status}", step.name, step.title, position, total,
                           self.redact(result.message), time.perf_counter() - started, public))
        report = outputs.get(self.steps[-1].name, {}) if self.steps else {}
        self.store.update_workflow_run(run_id, status="done", outputs=report, finished=True)
        emit(StepEvent(run_id, "run_done", total=total, message="Finished.", outputs=report))
        return self.state(run_id)


# --------------------------------------------------------------------------- helpers


def _roundtrip(value: Any) -> Any:
    """What the value will look like when read back from the database (so digests match after a restart)."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _digest(inputs: dict[str, Any], needed: dict[str, Any]) -> str:
    text = json.dumps({"inputs": inputs, "needs": needed}, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return text if _expected(exc) and text else f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _expected(exc: Exception) -> bool:
    """Failures with a message meant for the operator (ours, the Hub's, a provider's) need no traceback."""
    return isinstance(exc, SpacesOSError)
