"""What the Routing page shows: the last decision, the decision log as rows, the task queue."""

from __future__ import annotations

import json
import time
from typing import Any

from core.llm.router import Router
from core.store import Store
from core.store.event_kinds import EventKind

EVENT_KINDS = [kind.value for kind in EventKind]      # the decision-log filter offers every kind


def last_decision(store: Store, session: str | None = None) -> dict[str, Any] | None:
    """The most recent routed task (of `session`, a hash, when given): its label, the provider and model
    that answered, and every attempt."""
    visible = session_task_ids(store, session)
    routed = store.events(kinds=["routed"], limit=1 if visible is None else 500)
    if visible is not None:
        routed = [e for e in routed if e["task_id"] in visible]
    if not routed:
        return None
    task_id = routed[-1]["task_id"]
    decision: dict[str, Any] = {"task_id": task_id, "label": routed[-1]["data"].get("label"),
                                "plan": routed[-1]["data"].get("plan", []), "attempts": []}
    for event in store.events(task_id=task_id):
        data = event["data"]
        if event["kind"] == "attempt_failed":
            decision["attempts"].append({"provider": data.get("provider"), "model": data.get("model"),
                                         "outcome": data.get("outcome")})
        elif event["kind"] == "done":
            decision.update(provider=data.get("provider"), model=data.get("model"))
            decision["attempts"].append({"provider": data.get("provider"), "model": data.get("model"),
                                         "outcome": "ok"})
    if "provider" not in decision and decision["plan"]:
        decision.update(provider=decision["plan"][0]["provider"], model=decision["plan"][0]["model"])
    return decision


def provider_rows(router: Router, keys: dict[str, str]) -> list[dict[str, Any]]:
    """Providers as the graph builder wants them: name, kind, models, status."""
    rows = []
    for s in router.status(keys):
        state = s.circuit.get("state", "closed")
        status = "cooldown" if state == "open" else ("ready" if s.usable else "no key")
        rows.append({"name": s.name, "kind": s.kind, "models": router.providers[s.name].config.models,
                     "status": status})
    return rows


def session_task_ids(store: Store, session: str | None) -> set[str] | None:
    """The task ids one session (a hash) may see; None means every session's (the operator's view)."""
    if session is None:
        return None
    return {row["id"] for row in store.list_tasks(session=session, limit=10_000)}


def decision_log(store: Store, *, kinds: list[str] | None = None, text: str = "", hours: float = 24,
                 limit: int = 500, session: str | None = None) -> list[dict[str, Any]]:
    """Events as table rows, newest first, filtered by kind, by a substring (task id or message), by age
    and, unless `session` is None, to that session's own tasks."""
    rows = []
    needle = text.strip().lower()
    visible = session_task_ids(store, session)
    for event in reversed(store.events(kinds=kinds or None, since=time.time() - hours * 3600, limit=limit)):
        if visible is not None and event["task_id"] not in visible:
            continue
        if needle and needle not in (event["task_id"] or "").lower() and needle not in event["message"].lower():
            continue
        rows.append({"time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event["ts"])),
                     "task": event["task_id"], "kind": event["kind"], "message": event["message"],
                     "data": json.dumps(event["data"], default=str)})
    return rows


def label_routes(manager, router: Router) -> dict[str, dict[str, str]] | None:
    """{label: {provider: model}} under the current routing rules, for the graph's label → model edges."""
    if manager is None:
        return None
    configs = [p.config for p in router.providers.values()]
    return {label: manager.rules.models_for(label, configs) for label in ("QUICK", "COMPLEX", "URGENT")}
