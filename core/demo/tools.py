"""The demo model's tool use: plan one tool call for a recognisable request, then answer from its result.

Only used by the demo provider when a request offers `tools`, so the agent loop can be watched without
a provider key. Deterministic: the same conversation always gives the same plan and the same answer.

    turn = demo_tool_turn(messages, tools)      # None: not a tool request, answer as usual
    turn.tool_calls                             # [{"id": "demo-call-1", "type": "function", "function": {...}}]
    turn.text                                   # set instead once tool results follow the call
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

_REPO_ID = r"[A-Za-z0-9][\w.\-]*/[\w.\-]+"
_STATUS = re.compile(rf"\b(?:status|state|running|up|down|health)\b.*?\b(?P<id>{_REPO_ID})"
                     rf"|\b(?P<id2>{_REPO_ID})\b.*?\b(?:status|state|running|up|down)\b", re.I)
# "restart the space alice/demo", "pause alice/demo": a mutating call, so the user is asked to confirm it.
_ACTION = re.compile(rf"\b(?P<verb>restart|reboot|pause|stop)\b.*?\b(?P<id>{_REPO_ID})", re.I)
_ACTION_TOOLS = {"restart": "restart_space", "reboot": "restart_space", "pause": "pause_space", "stop": "pause_space"}
_ASK = re.compile(r"\b(?:find|search|look|show|list|recommend|suggest|which|any)\b", re.I)
# Searchable kinds, in the order they win when a request names several.
_KINDS = (("search_spaces", re.compile(r"\bspaces?\b", re.I)), ("search_datasets", re.compile(r"\bdatasets?\b", re.I)),
          ("search_papers", re.compile(r"\bpapers?\b", re.I)), ("search_models", re.compile(r"\bmodels?\b", re.I)))
_FILLER = {"find", "search", "searching", "look", "looking", "show", "list", "recommend", "suggest", "which", "any",
           "for", "about", "on", "with", "that", "related", "to", "matching", "me", "some", "a", "an", "the", "good",
           "best", "great", "nice", "few", "popular", "top", "hugging", "face", "hub", "please", "can", "could",
           "you", "i", "need", "want", "are", "is", "there", "what", "of", "in"}
# Words people use → (search words, the Hub's pipeline tag).
_TASKS: tuple[tuple[str, str, str], ...] = (
    ("sentiment", "sentiment", "text-classification"),
    ("classif", "", "text-classification"),
    ("translat", "", "translation"),
    ("summari", "", "summarization"),
    ("speech", "", "automatic-speech-recognition"),
    ("transcri", "", "automatic-speech-recognition"),
    ("embedding", "", "sentence-similarity"),
    ("text-to-image", "", "text-to-image"),
    ("image generation", "", "text-to-image"),
    ("chat", "", "text-generation"),
    ("llm", "", "text-generation"),
)
SEARCH_LIMIT = 5


@dataclass(frozen=True)
class DemoToolTurn:
    """What the demo model says in one turn: tool calls to make, or the text of its answer."""

    text: str = ""
    tool_calls: list[dict[str, Any]] | None = None


def demo_tool_turn(messages: list[dict[str, Any]], tools: Iterable[Mapping[str, Any]]) -> DemoToolTurn | None:
    """The demo model's tool-aware turn, or None when the usual demo answer fits better."""
    if messages and messages[-1].get("role") == "tool":
        return DemoToolTurn(text=answer_from_results(messages))
    offered = {t.get("function", {}).get("name") for t in tools or () if isinstance(t, Mapping)}
    prompt = next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)
    if not isinstance(prompt, str):
        return None
    planned = plan_tool_call(prompt, offered)
    if planned is None:
        return None
    name, arguments = planned
    call_id = f"demo-call-{sum(m.get('role') == 'assistant' for m in messages) + 1}"
    return DemoToolTurn(tool_calls=[{"id": call_id, "type": "function",
                                     "function": {"name": name, "arguments": json.dumps(arguments)}}])


def plan_tool_call(prompt: str, offered: set[str | None]) -> tuple[str, dict[str, Any]] | None:
    """(tool name, arguments) for a recognisable request among the `offered` tools, else None.

    >>> plan_tool_call("find a sentiment model", {"search_models"})
    ('search_models', {'query': 'sentiment', 'task': 'text-classification', 'limit': 5})
    """
    text = prompt.strip()
    if (m := _ACTION.search(text)) and (tool := _ACTION_TOOLS[m.group("verb").lower()]) in offered:
        arguments: dict[str, Any] = {"space_id": m.group("id").strip(".")}
        if tool == "restart_space" and re.search(r"\b(factory|rebuild|from scratch)\b", text, re.I):
            arguments["factory"] = True
        return tool, arguments
    if "space_status" in offered and (m := _STATUS.search(text)):
        return "space_status", {"space_id": (m.group("id") or m.group("id2")).strip(".")}
    if not _ASK.search(text):
        return None
    for tool, noun in _KINDS:
        if tool in offered and noun.search(text):
            words = _query(noun.sub(" ", text))
            if tool == "search_models":
                return tool, _model_search(words)
            if words:
                return tool, {"query": words, "limit": SEARCH_LIMIT}
    return None


def _query(words: str) -> str:
    kept = [w for w in re.sub(r"[^\w\s\-/]", " ", words).split() if w.lower() not in _FILLER]
    return " ".join(kept)[:100]


def _model_search(words: str) -> dict[str, Any]:
    lowered = words.lower()
    for marker, query, task in _TASKS:
        if marker in lowered:
            return {"query": query, "task": task, "limit": SEARCH_LIMIT} if query else \
                {"task": task, "limit": SEARCH_LIMIT}
    query = _query(words)
    return {"query": query, "limit": SEARCH_LIMIT} if query else {"limit": SEARCH_LIMIT}


# --------------------------------------------------------------------------- answering


def answer_from_results(messages: list[dict[str, Any]]) -> str:
    """A short answer built from the tool results that end the conversation."""
    results: list[dict[str, Any]] = []
    for m in reversed(messages):
        if m.get("role") != "tool":
            break
        results.append(m)
    results.reverse()
    names = _call_names(messages)
    parts = [_describe(names.get(m.get("tool_call_id"), "the tool"), _load(m.get("content"))) for m in results]
    return "\n\n".join(parts) + "\n\n(Demo model: the tool results are real, the wording is canned.)"


def _call_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    names = {}
    for m in messages:
        for call in m.get("tool_calls") or []:
            names[call.get("id")] = (call.get("function") or {}).get("name", "the tool")
    return names


def _load(content: Any) -> Any:
    try:
        return json.loads(content) if isinstance(content, str) else content
    except ValueError:
        return content


def _describe(name: str, outcome: Any) -> str:
    if not isinstance(outcome, Mapping) or outcome.get("ok") is not True:
        error = outcome.get("error") if isinstance(outcome, Mapping) else None
        message = error.get("message") if isinstance(error, Mapping) else (error or outcome)
        return f"`{name}` did not work: {message}"
    result = outcome.get("result")
    if isinstance(result, Mapping) and isinstance(result.get("items"), list):
        return _describe_page(name, result["items"])
    if name in ("restart_space", "pause_space") and isinstance(result, Mapping):
        done = "Restarted" if name == "restart_space" else "Paused"
        stage = f": it is now **{result['stage']}**" if result.get("stage") else ""
        return f"{done} Space `{result.get('id') or result.get('space_id') or 'the Space'}`{stage}."
    if name == "space_status" and isinstance(result, Mapping):
        hardware = f" on {result['hardware']}" if result.get("hardware") else ""
        return f"Space `{result.get('id')}` is **{result.get('stage') or 'unknown'}**{hardware} ({result.get('url')})."
    return f"`{name}` answered: {json.dumps(result, default=str)[:600]}"


def _describe_page(name: str, items: list[Any]) -> str:
    if not items:
        return f"`{name}` found nothing; try other words."
    lines = [f"`{name}` found {len(items)}{' (first page)' if len(items) >= SEARCH_LIMIT else ''}:"]
    for item in items[:SEARCH_LIMIT]:
        if not isinstance(item, Mapping):
            continue
        facts = [f"{item[k]:,} {label}" for k, label in (("downloads", "downloads"), ("likes", "likes"),
                                                         ("upvotes", "upvotes")) if isinstance(item.get(k), int)]
        extra = item.get("task") or item.get("stage") or ""
        detail = ", ".join(filter(None, [extra, *facts]))
        lines.append(f"- **{item.get('id') or item.get('title')}**" + (f" ({detail})" if detail else ""))
    return "\n".join(lines)
