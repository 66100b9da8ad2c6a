"""Chat as a service: one prompt in, the right kind of turn out. The page only lays the turn out.

    chat = ChatService(svc)
    turn = chat.send(ctx, "What's 2+2?", ChatOptions())
    turn.kind            # refused | failed | compare | tools | background | stream
    text = "".join(turn.chunks); chat.finish_stream(ctx, turn, text)

It decides between compare mode, the tool-using agent (Hub tools and remote MCP tools) and the
manager, and it always routes with the session's keys and per-provider settings. Every reply the
demo model gives says so, and why.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.agent.manager import Task
from core.app.session import SessionContext
from core.app.views.chat import (
    agent_facts,
    facts_line,
    interruption_notes,
    reply_facts,
    run_compare,
    step_view,
    wants_tools,
)
from core.app.views.mcp import session_remote_tools
from core.app.views.spaces import choose_hub_token, session_clients
from core.errors import SpacesOSError
from core.tools.agent_loop import AgentLoop
from core.tools.registry import build_hub_tools
from core.tools.remote import server_names

if TYPE_CHECKING:
    from core.app.services import Services

HISTORY_TURNS = 12


@dataclass
class ChatOptions:
    """What the user set under "Routing options"."""

    provider: str | None = None         # pinned provider, None: the manager decides
    model: str | None = None            # typed model, None: the tier's default
    compare: bool = False
    targets: list[str] = field(default_factory=list)
    use_tools: bool = True


@dataclass
class ChatTurn:
    kind: str                           # refused | failed | compare | tools | background | stream
    message: str = ""                   # refused (not kept): why; failed (kept): why; background: what started
    items: list[dict[str, Any]] = field(default_factory=list)     # compare results
    task: Task | None = None
    chunks: Iterator[str] | None = None


class ChatService:
    def __init__(self, svc: Services):
        self.svc = svc

    @property
    def max_chars(self) -> int:
        return self.svc.policy.max_message_chars

    def send(self, ctx: SessionContext, prompt: str, options: ChatOptions) -> ChatTurn:
        """Start answering `prompt`; the user's message joins the history unless it is refused."""
        if not prompt or not prompt.strip():
            return ChatTurn("refused", "The message is empty.")
        if len(prompt) > self.max_chars:
            return ChatTurn("refused", f"That message is {len(prompt):,} characters; the limit here is "
                                       f"{self.max_chars:,}. Shorten it or attach less text.")
        if options.compare and len(options.targets) < 2:
            return ChatTurn("refused", "Pick at least two models to compare.")
        history = self._history(ctx)
        ctx.messages.append({"role": "user", "content": prompt})
        try:
            return self._answer(ctx, prompt, options, history)
        except SpacesOSError as e:
            ctx.messages.append({"role": "assistant", "content": "", "error": str(e)})
            return ChatTurn("failed", str(e))

    def _answer(self, ctx: SessionContext, prompt: str, options: ChatOptions,
                history: list[dict[str, Any]]) -> ChatTurn:
        route = ctx.route_options()
        if options.compare:
            items = run_compare(self.svc.router, prompt, options.targets, route["keys"], ctx.identity, history,
                                overrides=route["overrides"])
            ctx.messages.append({"role": "assistant", "content": "", "compare": items})
            return ChatTurn("compare", items=items)
        if options.use_tools and wants_tools(prompt, server_names(self.svc.config)):
            started = time.perf_counter()
            result = self.agent_loop(ctx).run(history + [{"role": "user", "content": prompt}],
                                              provider=options.provider, model=options.model, **route)
            self._keep_agent_result(ctx, result, (time.perf_counter() - started) * 1000)
            return ChatTurn("tools")
        task, chunks = self.svc.manager.submit_streaming(
            prompt, ctx.identity, route["keys"], history=history, provider=options.provider,
            model=options.model, overrides=route["overrides"])
        if task.label == "COMPLEX":
            ctx.task_ids.append(task.id)
            text = (f"Started background task `{task.id}`: this looks like long work "
                    f"(COMPLEX, {task.confidence:.0%}). Progress shows below; you can keep chatting.")
            ctx.messages.append({"role": "assistant", "content": text, "facts": self._facts(ctx, task.id)})
            return ChatTurn("background", text, task=task)
        return ChatTurn("stream", task=task, chunks=chunks)

    def finish_stream(self, ctx: SessionContext, turn: ChatTurn, text: str | None) -> dict[str, Any]:
        """After the page streamed a QUICK/URGENT answer: keep it with its facts and notes."""
        finished = self.svc.manager.get(turn.task.id)
        error = finished.error if finished.status == "failed" else None
        message = {"role": "assistant", "content": text or "", "error": error,
                   "facts": self._facts(ctx, turn.task.id), "notes": interruption_notes(self.svc.store, turn.task.id)}
        ctx.messages.append(message)
        return message

    def _facts(self, ctx: SessionContext, task_id: str) -> str:
        facts = reply_facts(self.svc.store, task_id)
        line = facts_line(facts)
        if facts.get("key_source") == "demo":
            line += f" · answered by the offline demo model because {self.demo_reason(ctx)}"
        return line

    def demo_reason(self, ctx: SessionContext) -> str:
        plan = self.svc.router.plan(keys=ctx.keys, overrides=ctx.overrides() or None)
        return next((c.note for c in plan if c.note), "the demo provider was chosen")

    def _history(self, ctx: SessionContext) -> list[dict[str, Any]]:
        turns = [m for m in ctx.messages if not m.get("compare") and not m.get("error")]
        return [{"role": m["role"], "content": m["content"]} for m in turns][-HISTORY_TURNS:]

    # ------------------------------------------------------------------ tools

    def agent_loop(self, ctx: SessionContext) -> AgentLoop:
        """The tool-using loop with this session's Hub clients (its own HF token, else the shared one)."""
        svc = self.svc
        token = choose_hub_token(svc.config.providers, ctx.keys, hosted=svc.hosted)
        hub, spaces = session_clients(ctx.cache, endpoint=svc.hub_endpoint, token=token, router_url=None,
                                      store=svc.store, session=ctx.identity,
                                      max_upload_bytes=svc.policy.max_upload_bytes)
        registry = build_hub_tools(hub, spaces)
        registry.extend(session_remote_tools(ctx.cache, svc.config, token, hosted=svc.hosted).tools)   # remote MCP
        return AgentLoop(svc.router, registry, svc.store)

    def confirm(self, ctx: SessionContext, approved: bool) -> None:
        """Run (or decline) the tool call waiting for this session's answer, and keep the result."""
        pending = ctx.pending_tool
        if pending is None or pending.resolved is not None:
            return
        started = time.perf_counter()
        result = self.agent_loop(ctx).continue_after_confirmation(pending, approved, keys=ctx.keys)
        self._keep_agent_result(ctx, result, (time.perf_counter() - started) * 1000)

    def _keep_agent_result(self, ctx: SessionContext, result: Any, elapsed_ms: float | None = None) -> None:
        steps = [step_view(s) for s in result.steps]
        facts = agent_facts(result, elapsed_ms)
        if result.last is not None and result.last.demo:
            facts += f" · answered by the offline demo model because {result.last.demo_reason}"
        ctx.messages.append({"role": "assistant", "content": result.text or "", "steps": steps, "facts": facts})
        ctx.pending_tool = result.pending
