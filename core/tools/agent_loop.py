"""The tool-using chat loop: the model asks for a tool, we check and run it, the model continues.

    loop = AgentLoop(router, build_hub_tools(hub, spaces), store, max_steps=6, token_budget=20_000)
    result = loop.run([{"role": "user", "content": "find a sentiment model"}], keys=keys, session=sid)
    result.text, result.steps            # the answer, and one ToolStep per call (the Chat page's expanders)
    if result.pending:                   # a mutating tool (delete/restart/pause a Space...) waits for the user
        result = loop.continue_after_confirmation(result.pending, approved=True, keys=keys)

Each round: `router.chat(messages, tools=[...])` → for every `tool_calls` entry, parse the arguments,
validate them against the tool's JSON schema (a mismatch goes back to the model as the tool result, so it
can fix its call), run the tool, append a `tool` message → ask the model again. Mutating tools stop the
loop with a `PendingConfirmation` instead of running. A step limit (tool rounds) and a token budget end a
runaway loop with a plain message. Every call is an `events` row of kind `tool_call` (arguments redacted).
Keys are never kept in the loop's state: pass them again to `continue_after_confirmation`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import SpacesOSError
from core.hub.client import jsonable
from core.hub.errors import HubActionError
from core.llm.keys import redact, session_hash
from core.llm.router import ChatResult, Router
from core.store.event_kinds import EventKind
from core.tools.registry import Tool, ToolArgumentError, ToolRegistry, validate_arguments

DEFAULT_MAX_STEPS = 6
DEFAULT_TOKEN_BUDGET = 24_000
MAX_RESULT_CHARS = 8_000          # a tool result longer than this is cut before the model sees it
_API_NAME = re.compile(r"[^A-Za-z0-9_-]")
# Argument names whose values never reach logs or the confirmation summary.
_SECRET_ARGUMENT = re.compile(r"secret|token|password|passwd|api_?key|credential|authorization", re.I)

JSON = dict[str, Any]


@dataclass
class ToolStep:
    """One tool call, as the Chat page shows it and the `events` row records it."""

    call_id: str
    name: str
    arguments: JSON                 # redacted
    outcome: str                    # ok | invalid_arguments | unknown_tool | failed | refused
    result: Any                     # exactly what the model was given (parsed JSON)
    duration_ms: float

    @property
    def title(self) -> str:
        """A one-line label, e.g. "search_models(query='sentiment') → ok"."""
        shown = ", ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"{self.name}({shown[:120]}) → {self.outcome}"


@dataclass
class AgentState:
    """Where a run stands; what `continue_after_confirmation` needs to go on. Holds no keys."""

    messages: list[JSON]
    session: str | None
    task_id: str | None
    options: JSON                               # router.chat options: model, provider, prefer, max_tokens...
    api_names: dict[str, str]                   # name the model sees → registry name
    queue: list[JSON] = field(default_factory=list)     # this turn's tool calls still to handle
    steps: list[ToolStep] = field(default_factory=list)
    tool_rounds: int = 0
    tokens_used: int = 0
    last: ChatResult | None = None


@dataclass
class PendingConfirmation:
    """A mutating tool call the user must approve; nothing has run yet."""

    call_id: str
    tool: str
    arguments: JSON = field(repr=False)         # validated, defaults filled; what runs on approval
    shown_arguments: JSON                       # redacted, for display
    summary: str                                # e.g. "Delete the Space alice/app for good."
    state: AgentState = field(repr=False)
    resolved: str | None = None                 # "approved" | "declined" once used


@dataclass
class AgentResult:
    text: str
    steps: list[ToolStep]
    pending: PendingConfirmation | None = None
    stop_reason: str = "answered"   # answered | awaiting_confirmation | step_limit | token_budget | failed
    messages: list[JSON] = field(default_factory=list)   # the whole conversation, tool turns included
    tokens_used: int = 0
    last: ChatResult | None = None  # the last model answer: provider, model, usage, demo flag

    @property
    def demo(self) -> bool:
        return bool(self.last and self.last.demo)


class AgentLoop:
    def __init__(self, router: Router, registry: ToolRegistry, store: Any = None, *,
                 max_steps: int = DEFAULT_MAX_STEPS, token_budget: int = DEFAULT_TOKEN_BUDGET,
                 offer_mutating: bool = True, max_result_chars: int = MAX_RESULT_CHARS):
        if max_steps < 1 or token_budget < 1:
            raise ValueError("max_steps and token_budget must be at least 1")
        self.router = router
        self.registry = registry
        self.store = store if store is not None else router.store
        self.max_steps = max_steps
        self.token_budget = token_budget
        self.offer_mutating = offer_mutating
        self.max_result_chars = max_result_chars

    # ------------------------------------------------------------------ public API

    def run(self, messages: list[JSON], *, keys: Mapping[str, str] | None = None, session: str | None = None,
            task_id: str | None = None, **chat_options: Any) -> AgentResult:
        """Answer `messages`, calling tools as the model asks; `chat_options` go to `Router.chat`."""
        chat_options.pop("tools", None)
        state = AgentState(list(messages), session, task_id, chat_options, self._api_names())
        return self._drive(state, keys)

    def continue_after_confirmation(self, pending: PendingConfirmation, approved: bool, *,
                                    keys: Mapping[str, str] | None = None) -> AgentResult:
        """Run the pending call (approved) or tell the model the user declined, then go on.

        A confirmation is used once: a second call (a double click, a rerun) raises ValueError."""
        if pending.resolved:
            raise ValueError(f"The call to `{pending.tool}` was already {pending.resolved}.")
        pending.resolved = "approved" if approved else "declined"
        state = pending.state
        started = time.perf_counter()
        if not approved:
            outcome, result = "refused", _error("refused", f"The user declined to run `{pending.tool}`; nothing "
                                                "was changed. Do not call it again unless the user asks.")
        elif pending.tool not in self.registry:
            outcome, result = "unknown_tool", _error("unknown_tool", f"`{pending.tool}` is no longer available.")
        else:
            outcome, result = self._execute(self.registry.get(pending.tool), pending.arguments, keys)
        self._record(state, pending.call_id, pending.tool, pending.shown_arguments, outcome, result, started, keys)
        return self._drive(state, keys)

    # ------------------------------------------------------------------ the loop

    def _drive(self, state: AgentState, keys: Mapping[str, str] | None) -> AgentResult:
        while True:
            while state.queue:
                pending = self._handle_call(state, state.queue.pop(0), keys)
                if pending is not None:
                    return self._result(state, "", "awaiting_confirmation", pending=pending)
            if state.tokens_used >= self.token_budget:
                return self._stopped(state, "token_budget")
            try:
                answer = self.router.chat(state.messages, keys=keys, session=state.session,
                                          tools=self._schemas(state), **state.options)
            except SpacesOSError as exc:
                return self._result(state, str(exc), "failed")
            state.last = answer
            state.tokens_used += _tokens(answer, state.messages)
            calls = [_normalise_call(c, i) for i, c in enumerate(answer.tool_calls or [])]
            if not calls:
                state.messages.append({"role": "assistant", "content": answer.text})
                return self._result(state, answer.text, "answered")
            if state.tool_rounds >= self.max_steps:
                return self._stopped(state, "step_limit", calls)
            if state.tokens_used >= self.token_budget:
                return self._stopped(state, "token_budget", calls)
            state.tool_rounds += 1
            state.messages.append({"role": "assistant", "content": answer.text or None, "tool_calls": calls})
            state.queue = list(calls)

    def _handle_call(self, state: AgentState, call: JSON, keys: Mapping[str, str] | None) -> PendingConfirmation | None:
        """Check one requested call and run it, or return it for confirmation when it changes something."""
        started = time.perf_counter()
        function = call["function"]
        name = state.api_names.get(function["name"], function["name"])
        if name not in self.registry or not self._offered(self.registry.get(name)):
            offered = ", ".join(state.api_names)
            self._record(state, call["id"], name, {}, "unknown_tool",
                         _error("unknown_tool", f"No tool named `{function['name']}`. Available: {offered}."),
                         started, keys)
            return None
        tool = self.registry.get(name)
        arguments: JSON = {}
        try:
            arguments = _parse_arguments(function.get("arguments"))
            checked = _validate(tool, arguments)
        except ToolArgumentError as exc:
            self._record(state, call["id"], name, _shown(name, arguments, keys), "invalid_arguments",
                         _error("invalid_arguments", f"{exc}. Fix the arguments to match the tool's schema and "
                                "call it again."), started, keys)
            return None
        shown = _shown(name, checked, keys)
        if tool.mutating:
            self._log(state, call["id"], name, shown, "awaiting_confirmation", None, 0.0, keys)
            return PendingConfirmation(call["id"], name, checked, shown, confirmation_summary(tool, shown), state)
        outcome, result = self._execute(tool, checked, keys)
        self._record(state, call["id"], name, shown, outcome, result, started, keys)
        return None

    def _execute(self, tool: Tool, arguments: JSON, keys: Mapping[str, str] | None) -> tuple[str, JSON]:
        try:
            return "ok", {"ok": True, "result": jsonable(tool.handler(**arguments))}
        except HubActionError as exc:
            return "failed", {"ok": False, "error": exc.to_dict()}
        except Exception as exc:   # a tool's own bug or a remote server's failure must not end the chat
            return "failed", _error("tool_failed", redact(f"{type(exc).__name__}: {exc}", _secrets(keys))[:500])

    # ------------------------------------------------------------------ bookkeeping

    def _record(self, state: AgentState, call_id: str, name: str, shown: JSON, outcome: str, result: JSON,
                started: float, keys: Mapping[str, str] | None) -> None:
        """The tool message for the model, the step for the page, the events row for the log."""
        duration = (time.perf_counter() - started) * 1000
        content = redact(json.dumps(result, default=str, ensure_ascii=False), _secrets(keys))
        if len(content) > self.max_result_chars:
            cut = len(content) - self.max_result_chars
            content = content[: self.max_result_chars] + f"… [cut: {cut} more characters; ask for less]"
        state.messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        state.steps.append(ToolStep(call_id, name, shown, outcome, result, round(duration, 1)))
        self._log(state, call_id, name, shown, outcome, result, duration, keys)

    def _log(self, state: AgentState, call_id: str, name: str, shown: JSON, outcome: str, result: JSON | None,
             duration: float, keys: Mapping[str, str] | None) -> None:
        if self.store is None:
            return
        error = result.get("error") if isinstance(result, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        self.store.log_event(EventKind.TOOL_CALL, f"{name}: {outcome} ({duration:.0f} ms)", task_id=state.task_id, data={
            "name": name, "arguments": shown, "outcome": outcome, "duration_ms": round(duration, 1),
            "call_id": call_id, "session": session_hash(state.session),
            "error": redact(message, _secrets(keys)) if message else None})

    def _result(self, state: AgentState, text: str, reason: str, *,
                pending: PendingConfirmation | None = None) -> AgentResult:
        return AgentResult(text, list(state.steps), pending, reason, state.messages, state.tokens_used, state.last)

    def _stopped(self, state: AgentState, reason: str, calls: list[JSON] | None = None) -> AgentResult:
        asked = f" It last asked for `{calls[-1]['function']['name']}`." if calls else ""
        if reason == "step_limit":
            text = (f"I stopped after {state.tool_rounds} rounds of tool calls without reaching an answer (the "
                    f"limit is {self.max_steps}).{asked} Try a narrower question, or raise the step limit.")
        else:
            text = (f"I stopped because this answer used about {state.tokens_used:,} tokens (the budget is "
                    f"{self.token_budget:,}).{asked} Try a narrower question, or raise the token budget.")
        state.messages.append({"role": "assistant", "content": text})
        return self._result(state, text, reason)

    # ------------------------------------------------------------------ tools as the model sees them

    def _offered(self, tool: Tool) -> bool:
        return self.offer_mutating or not tool.mutating

    def _api_names(self) -> dict[str, str]:
        """Names the chat API accepts (`^[A-Za-z0-9_-]{1,64}$`): `hf.hub_repo_search` → `hf_hub_repo_search`."""
        names: dict[str, str] = {}
        for tool in self.registry.list(include_mutating=self.offer_mutating):
            base = _API_NAME.sub("_", tool.name)[:64]
            api, n = base, 1
            while api in names:
                n += 1
                api = f"{base[:60]}_{n}"
            names[api] = tool.name
        return names

    def _schemas(self, state: AgentState) -> list[JSON]:
        return [{"type": "function", "function": {"name": api, "description": tool.description,
                                                  "parameters": tool.parameters}}
                for api, tool in ((api, self.registry.get(name)) for api, name in state.api_names.items())]


# --------------------------------------------------------------------------- helpers


def confirmation_summary(tool: Tool, arguments: Mapping[str, Any]) -> str:
    """What the user is asked to approve, in plain words."""
    space = arguments.get("space_id") or arguments.get("repo_id") or arguments.get("name")
    if tool.name == "delete_space":
        return f"Delete the Space {space} for good. This cannot be undone."
    if tool.name == "restart_space":
        return f"Restart the Space {space}" + (" and rebuild it from scratch." if arguments.get("factory") else ".")
    if tool.name == "pause_space":
        return f"Pause the Space {space}; it stays stopped until someone restarts it."
    if tool.name in ("set_secret", "add_secret"):
        return f"Set the secret {arguments.get('key')} on the Space {space} (the value is hidden here)."
    if tool.name == "create_space":
        return f"Create the Space {space}."
    shown = ", ".join(f"{k}={v!r}" for k, v in arguments.items())
    return f"Run `{tool.name}`({shown}): {tool.description.split('. ')[0].rstrip('.')}."


def _normalise_call(call: Mapping[str, Any], index: int) -> JSON:
    function = call.get("function") or {}
    arguments = function.get("arguments")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {})
    return {"id": call.get("id") or f"call_{index}", "type": "function",
            "function": {"name": str(function.get("name") or ""), "arguments": arguments}}


def _parse_arguments(raw: Any) -> JSON:
    try:
        arguments = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError as exc:
        raise ToolArgumentError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(arguments, dict):
        raise ToolArgumentError(f"must be a JSON object, got {type(arguments).__name__}")
    return arguments


def _validate(tool: Tool, arguments: JSON) -> JSON:
    try:
        return validate_arguments(tool.parameters, arguments)
    except ToolArgumentError:
        raise
    except (KeyError, TypeError):    # a remote schema jsonschema cannot apply: the remote server checks it
        return dict(arguments)


def _shown(tool_name: str, arguments: Mapping[str, Any], keys: Mapping[str, str] | None) -> JSON:
    """Arguments safe to log and show: secret values hidden, key-shaped text masked."""
    secrets = _secrets(keys)
    hide_value = "secret" in tool_name       # set_secret(key, value): the key is a name, the value is secret
    return {name: "•••" if _SECRET_ARGUMENT.search(name) or (hide_value and name == "value")
            else _redacted(value, secrets) for name, value in arguments.items()}


def _redacted(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: _redacted(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    return value


def _secrets(keys: Mapping[str, str] | None) -> list[str]:
    return [v for v in (keys or {}).values() if v]


def _error(kind: str, message: str) -> JSON:
    return {"ok": False, "error": {"kind": kind, "message": message}}


def _tokens(answer: ChatResult, messages: list[JSON]) -> int:
    """Tokens this model call used: the provider's count, else about four characters a token."""
    tokens_in = answer.usage.tokens_in
    if tokens_in is None:
        tokens_in = len(json.dumps(messages, default=str)) // 4
    tokens_out = answer.usage.tokens_out
    if tokens_out is None:
        tokens_out = (len(answer.text) + len(json.dumps(answer.tool_calls or []))) // 4
    return tokens_in + tokens_out
