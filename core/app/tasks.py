"""Tasks as one session may see and control them: Chat's background cards and Routing's queue.

    tasks = TaskService(svc)
    tasks.pause(ctx, task_id)        # refused unless the task is this session's (or ctx is the operator)
    tasks.resume(ctx, task_id)       # resumes with this session's own keys and settings
    tasks.restore(ctx)               # after a restart: this identity's interrupted tasks back into Chat

A session controls only its own tasks; the all-sessions view belongs to the operator (local use).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.agent.manager import ACTIVE, Task
from core.app.session import SessionContext
from core.errors import SpacesOSError

if TYPE_CHECKING:
    from core.app.services import Services


class NotYourTask(SpacesOSError):
    """A session tried to see or control a task that belongs to another session."""


@dataclass
class Restored:
    """What a restart (or a stopped replica) interrupted, seen from one session: the tasks back in its Chat,
    paused (waiting for Resume, or for this visitor's own keys: the card says which) or continuing from their
    checkpoint (`continuing`: on shared keys, or on the keys this session gives now); how many more of its
    own wait in the Routing page's task queue (no room among the cards); and whether others, which this
    identity may not claim, wait there for the operator."""
    in_chat: list[Task] = field(default_factory=list)
    in_queue: int = 0
    unclaimed: bool = False
    continuing: list[Task] = field(default_factory=list)


RESTORE_SCAN = 200          # the newest `recovered` events looked at


class TaskService:
    def __init__(self, svc: Services):
        self.svc = svc

    @property
    def manager(self):
        if self.svc.manager is None:
            raise SpacesOSError("The manager is not running: fix the routing rules or the config first.")
        return self.svc.manager

    def get(self, ctx: SessionContext, task_id: str) -> Task:
        task = self.manager.get(task_id)
        if task is None or not ctx.owns(task.session):
            raise NotYourTask(f"There is no task `{task_id}` in this session.")
        return task

    def mine(self, ctx: SessionContext, limit: int = 5) -> list[Task]:
        """This session's background tasks, newest first."""
        tasks = (self.manager.get(t) for t in reversed(ctx.task_ids))
        return [t for t in tasks if t is not None and ctx.owns(t.session)][:limit]

    def queue(self, ctx: SessionContext, limit: int = 20) -> list[Task]:
        """The queue this session may see: its own tasks, or everyone's for the operator."""
        if self.svc.manager is None:
            return []
        if ctx.operator:
            return self.manager.list(limit=limit)
        return self.manager.list(ctx.session_hash, hashed=True, limit=limit)

    def restore(self, ctx: SessionContext, cards: int = 5) -> Restored:
        """Tasks a restart interrupted (a `recovered` event, still unfinished) come back to this session's
        Chat when its identity allows: hosted, the same visitor identity; locally, the operator's, so all of
        them. Up to `cards` are shown there; the rest, and those this identity may not claim, are counted as
        waiting in the Routing queue. This session's own keys are given to the manager, so its tasks that
        wait for them continue now. Idempotent: a task already in this session stays where it is."""
        if self.svc.manager is None:
            return Restored()
        if ctx.keys and ctx.session_hash:
            self.manager.give_keys(ctx.session_hash, ctx.keys, hashed=True)
        ids = dict.fromkeys(e["task_id"] for e in self.svc.store.events(kinds=["recovered"], limit=RESTORE_SCAN)
                            if e["task_id"])
        interrupted = [t for t in (self.manager.get(i) for i in ids) if t is not None and t.status in ACTIVE]
        claimable = sorted((t for t in interrupted if ctx.owns(t.session)), key=lambda t: t.created_at)
        room = max(0, cards - len([i for i in ctx.task_ids if i not in {t.id for t in claimable}]))
        shown = claimable[-room:] if room else []
        for task in shown:
            if task.id not in ctx.task_ids:
                ctx.task_ids.insert(0, task.id)       # older than this session's own tasks
        return Restored([t for t in shown if t.status == "paused"],
                        len([t for t in claimable if t.status == "paused" and t not in shown]),
                        any(t.status == "paused" and not ctx.owns(t.session) for t in interrupted),
                        [t for t in shown if t.status != "paused"])

    def pause(self, ctx: SessionContext, task_id: str) -> Task:
        self.get(ctx, task_id)
        return self.manager.pause(task_id)

    def resume(self, ctx: SessionContext, task_id: str) -> Task:
        """Resume with the clicker's keys only when the task is theirs: the owner's own session."""
        task = self.get(ctx, task_id)
        mine = task.session == ctx.session_hash
        return self.manager.resume(task_id, ctx.keys if mine else None, ctx.overrides() if mine else None)

    def cancel(self, ctx: SessionContext, task_id: str) -> Task:
        self.get(ctx, task_id)
        return self.manager.cancel(task_id)

    @staticmethod
    def controls(task: Task) -> dict[str, bool]:
        """Which buttons a task shows, always in the same places: pause, resume, cancel."""
        return {"pause": task.status == "running", "resume": task.status == "paused",
                "cancel": task.status in ACTIVE}
