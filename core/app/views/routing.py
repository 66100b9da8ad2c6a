"""What the Routing page shows: the last decision, the decision log as rows, the task queue."""

from __future__ import annotations

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


LOG_COLUMNS = ["time", "task", "kind", "what happened"]     # the table; "message" and "data" are the details


def decision_log(store: Store, *, kinds: list[str] | None = None, text: str = "", hours: float = 24,
                 limit: int = 500, session: str | None = None, node: str | None = None) -> list[dict[str, Any]]:
    """Events as table rows, newest first, filtered by kind, by a substring (task id or message), by age,
    by a routing-graph node (`node`: only the tasks that went through it, see `tasks_through`) and, unless
    `session` is None, to that session's own tasks. Each row has LOG_COLUMNS (the time with its date, the
    event in plain words) and the raw `message` and `data` for a details view."""
    rows = []
    needle = text.strip().lower()
    visible = session_task_ids(store, session)
    since = time.time() - hours * 3600
    through = tasks_through(store.events(kinds=THROUGH_KINDS, since=since, limit=limit * 4), node) if node else None
    for event in reversed(store.events(kinds=kinds or None, since=since, limit=limit)):
        if visible is not None and event["task_id"] not in visible:
            continue
        if through is not None and event["task_id"] not in through:
            continue
        if needle and needle not in (event["task_id"] or "").lower() and needle not in event["message"].lower():
            continue
        rows.append({"time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event["ts"])),
                     "task": event["task_id"], "kind": event["kind"], "what happened": plain_words(event),
                     "message": event["message"], "data": event["data"]})
    return rows


THROUGH_KINDS = ["classified", "attempt_failed", "done"]     # the events that say which nodes a task went through


def tasks_through(events: list[dict[str, Any]], node: str) -> set[str] | None:
    """The task ids whose routing went through a graph node: `label:X` (classified X), `model:P/M` (an
    attempt at model M on provider P), `provider:P` or `more:P` (an attempt on P). None for the Manager
    (every task goes through it) or an unknown node."""
    kind, _, rest = node.partition(":")
    if kind == "label":
        def hit(e):
            return e["kind"] == "classified" and (e["data"] or {}).get("label") == rest
    elif kind == "model":
        provider, _, model = rest.partition("/")

        def hit(e):
            data = e["data"] or {}
            return e["kind"] in ("attempt_failed", "done") and data.get("provider") == provider and \
                (data.get("model") or "") == model
    elif kind in ("provider", "more"):
        def hit(e):
            return e["kind"] in ("attempt_failed", "done") and (e["data"] or {}).get("provider") == rest
    else:
        return None
    return {e["task_id"] for e in events if e["task_id"] and hit(e)}


_LABEL_WORDS = {"QUICK": "a quick question, answered right away",
                "COMPLEX": "long work, run in the background",
                "URGENT": "urgent, sent to the fastest healthy provider"}


def _why(reasons: list[str]) -> str:
    """The classifier's reasons a user can read: the raw "complexity 0.72 vs threshold 0.41" stays in the details."""
    kept = [r for r in reasons if not r.startswith("complexity ")][:3]
    return f" Why: {'; '.join(kept)}." if kept else ""


def plain_words(event: dict[str, Any]) -> str:
    """One decision-log event as a sentence, e.g. 'Looks like long work, run in the background (92% sure).
    Why: task verb: 'plan', 'write'.' instead of 'COMPLEX (92%): complexity 0.72 vs threshold 0.41, …'."""
    kind, data, message = event["kind"], event.get("data") or {}, event.get("message") or ""
    chars = data.get("partial_chars")
    at = f" at {chars:,} characters" if chars is not None else ""
    if kind == "classified":
        label = data.get("label") or ""
        sure = f" ({data['confidence']:.0%} sure)" if data.get("confidence") is not None else ""
        return f"Looks like {_LABEL_WORDS.get(label, label)}{sure}.{_why(data.get('reasons') or [])}"
    if kind == "routed":
        plan = data.get("plan") or []
        order = ", then ".join(f"{p.get('provider')} ({p.get('model')})" for p in plan[:3]) or "no provider"
        return f"Uses the {data.get('tier') or 'default'} models: first {order}."
    if kind == "attempt_failed":
        return f"{data.get('provider')} ({data.get('model')}) did not answer: {message.split(': ', 1)[-1]}."
    if kind == "done":
        took = f" in {data['latency_ms'] / 1000:.1f} s" if data.get("latency_ms") is not None else ""
        tokens = f", {data['tokens_out']} tokens" if data.get("tokens_out") is not None else ""
        return f"Answered by {data.get('provider')} ({data.get('model')}){took}{tokens}."
    words = {
        "queued": "Waits until this session's running task pauses or ends (policy: queue).",
        "started": "Started writing the answer.",
        "fell_back": f"Answered by a later provider than planned: {message}.",
        "interrupted": f"Paused so task {data.get('interrupted_by')} could answer first.",
        "paused": "Paused by you." if "before" not in message else "Paused by you before it started.",
        "checkpointed": f"Saved the answer so far{at}, to continue from there.",
        "auto_resume": ("You gave your own keys here again, so this one continues." if data.get("keys_given")
                        else f"Task {data.get('interrupted_by')} has finished, so this one continues."),
        "resumed": f"Continues where it stopped{at}.",
        "recovered": (f"The console process running this stopped; another carries it on from its checkpoint{at}."
                      if data.get("carried_on") else
                      f"The console process running this stopped; paused{at}: {data['reason']}."
                      if data.get("reason") else f"The app restarted while this ran; paused{at}."),
        "failed": f"Failed: {message}",
        "cancelled": f"Cancelled{at}." if chars is not None else "Cancelled before it finished.",
    }
    return words.get(kind, message)


def label_routes(manager, router: Router) -> dict[str, dict[str, str]] | None:
    """{label: {provider: model}} under the current routing rules, for the graph's label → model edges."""
    if manager is None:
        return None
    configs = [p.config for p in router.providers.values()]
    return {label: manager.rules.models_for(label, configs) for label in ("QUICK", "COMPLEX", "URGENT")}
