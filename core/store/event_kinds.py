"""The kinds of decision-log event: the `kind` column of the `events` table, spelled once.

    from core.store.event_kinds import EventKind
    store.log_event(EventKind.ROUTED, "QUICK → fast tier: demo/quick-1", task_id=task_id)
    [e["kind"] for e in store.events(kinds=[EventKind.DONE])]      # plain strings: "done"

Why here and not in `core/agent/`: the emitters sit in two sibling layers that may not import each
other (`core.agent.manager` logs the task decisions, `core.tools.agent_loop` logs `tool_call`), and
the readers sit in `core.app`. The store is the one layer below all of them and owns the table, so
its vocabulary lives with it. It is not in the kernel (`core.errors`), which is about failures.
`Store.log_event` refuses a kind that is not listed here.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # Manager decisions, in the order a task meets them (core.agent.manager).
    CLASSIFIED = "classified"          # the request got a label (QUICK, COMPLEX, URGENT) and a confidence
    ROUTED = "routed"                  # the label chose a model tier; data holds the provider plan
    QUEUED = "queued"                  # the task waits for running tasks of its session (policy: queue)
    STARTED = "started"                # a worker began streaming the answer
    ATTEMPT_FAILED = "attempt_failed"  # one provider/model attempt failed; the router may try the next
    FELL_BACK = "fell_back"            # the answer came from a later provider than the first in the plan
    INTERRUPTED = "interrupted"        # paused so a QUICK/URGENT task could answer first
    PAUSED = "paused"                  # paused by the user, or before it started
    CHECKPOINTED = "checkpointed"      # the partial answer was saved so the task can resume from it
    AUTO_RESUME = "auto_resume"        # the task that interrupted this one ended, so it resumes itself
    RESUMED = "resumed"                # continued from its checkpoint
    RECOVERED = "recovered"            # was running when the app stopped; paused at its last checkpoint
    DONE = "done"                      # answered; data names the provider and model
    FAILED = "failed"                  # ended with an error; the message says it in plain words
    CANCELLED = "cancelled"            # cancelled by the user
    # Chat agent (core.tools.agent_loop).
    TOOL_CALL = "tool_call"            # the chat agent called a tool; arguments are redacted
