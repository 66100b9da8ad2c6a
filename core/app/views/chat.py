"""What the Chat page shows about a reply: routing facts, fallback chain, interruptions, compare runs.

Pure functions over the store and router, so the page stays layout only and this is tested
without Streamlit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from core.app.views.task_story import usage_totals
from core.errors import SpacesOSError
from core.llm.router import Router
from core.store import Store


def reply_facts(store: Store, task_id: str) -> dict[str, Any]:
    """Label, confidence, provider, model, key source, latency, TTFT, tokens, cost and fallbacks of a task.
    A task answered in parts (paused, then resumed) reports every part summed, from its usage rows."""
    facts: dict[str, Any] = {"task": task_id, "fallbacks": []}
    for event in store.events(task_id=task_id):
        data = event["data"]
        if event["kind"] == "classified":
            facts.update(label=data.get("label"), confidence=data.get("confidence"))
        elif event["kind"] == "routed":
            facts["tier"] = data.get("tier")
        elif event["kind"] == "attempt_failed":
            status = f" {data['http_status']}" if data.get("http_status") else ""
            facts["fallbacks"].append(f"{data.get('provider')} {data.get('outcome')}{status}")
        elif event["kind"] == "done":
            facts.update({k: data.get(k) for k in ("provider", "model", "latency_ms", "ttft_ms", "key_source",
                                                   "tokens_out", "cost_usd")})
    totals = usage_totals(store.usage_rows(task_id=task_id))
    if totals.parts > 1 and "provider" in facts:
        facts.update(parts=totals.parts, latency_ms=totals.latency_ms, ttft_ms=totals.ttft_ms,
                     tokens_out=totals.tokens_out, cost_usd=totals.cost_usd)
    return facts


def facts_line(facts: Mapping[str, Any]) -> str:
    """One caption line, e.g. `QUICK 91% · openrouter / gpt-4o-mini · your key · 420 ms (TTFT 180 ms) · …`."""
    parts = []
    if facts.get("label"):
        parts.append(f"{facts['label']} {facts.get('confidence') or 0:.0%}")
    if facts.get("provider"):
        source = {"byok": "your key", "shared": "shared key", "demo": "DEMO"}.get(facts.get("key_source"),
                                                                                facts.get("key_source") or "")
        parts.append(f"{facts['provider']} / {facts.get('model') or 'default'} · {source}")
    if facts.get("latency_ms") is not None:
        ttft = f" (TTFT {_ms(facts['ttft_ms'])})" if facts.get("ttft_ms") is not None else ""
        whole = f" in {facts['parts']} parts" if facts.get("parts", 1) > 1 else ""
        parts.append(f"{_ms(facts['latency_ms'])}{facts.get('latency_note', '')}{ttft}{whole}")
    if facts.get("tokens_out") is not None:
        parts.append(f"{facts['tokens_out']} tokens out")
    if facts.get("cost_usd") is not None:
        parts.append(f"${facts['cost_usd']:.6f}" if facts["cost_usd"] else "$0")
    if facts.get("fallbacks"):
        parts.append("fell back after: " + " → ".join(facts["fallbacks"]))
    return " · ".join(parts)


def _ms(value: float) -> str:
    """Milliseconds for a reader: "1,234 ms", and "<1 ms" rather than a misleading "0 ms"."""
    return "<1 ms" if value < 1 else f"{value:,.0f} ms"


def interruption_notes(store: Store, task_id: str) -> list[str]:
    """Notes for the conversation about background tasks this request paused, and whether they resumed:
    '⏸️ Paused background task `t1` at 412 characters to answer this first. ▶️ Resumed it when this answer
    ended.' Called while the answer streams too, so the pause shows as it happens."""
    notes = []
    for event in store.events(kinds=["interrupted"], limit=200):
        if event["data"].get("interrupted_by") == task_id:
            later = store.events(task_id=event["task_id"], kinds=["checkpointed", "auto_resume"])
            chars = next((e["data"].get("partial_chars") for e in later if e["kind"] == "checkpointed"), None)
            resumed = any(e["kind"] == "auto_resume" and e["data"].get("interrupted_by") == task_id for e in later)
            notes.append(f"⏸️ Paused background task `{event['task_id']}`"
                         + (f" at {chars:,} characters" if chars is not None else "")
                         + " to answer this first."
                         + (" ▶️ Resumed it when this answer ended." if resumed else ""))
    return notes


def compare_targets(router: Router, keys: Mapping[str, str]) -> list[str]:
    """"provider · model" choices for compare mode, from the providers this session can use."""
    demo = router.is_demo(keys)
    out = []
    for provider in router.providers.values():
        cfg = provider.config
        if (cfg.kind == "demo") != demo:
            continue
        if not demo and not (keys.get(cfg.name) or cfg.api_key or cfg.keyless):
            continue
        out.extend(f"{cfg.name} · {model}" for model in cfg.models[:3])
    return out


def run_compare(router: Router, prompt: str, targets: list[str], keys: Mapping[str, str], session: str,
                history: list[dict[str, Any]] | None = None, *,
                overrides: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Send the prompt to each target in parallel; each item has text or a plain-words error, and its facts."""
    messages = [*(history or []), {"role": "user", "content": prompt}]

    def one(target: str) -> dict[str, Any]:
        provider, model = (part.strip() for part in target.split("·", 1))
        try:   # streamed like a chat reply, so latency and time to first token are measured, not 0
            stream = router.stream(messages, model=model, provider=provider, keys=keys, session=session,
                                   label="COMPARE", prefer=[], overrides=overrides)
            stream.text()
            result = stream.result
        except SpacesOSError as e:
            return {"target": target, "error": str(e)}
        facts = {"provider": result.provider, "model": result.model, "key_source": result.key_source,
                 "latency_ms": result.latency_ms, "ttft_ms": result.ttft_ms, "tokens_out": result.usage.tokens_out,
                 "cost_usd": result.usage.cost_usd,
                 "fallbacks": [f"{a.provider} {a.outcome}" for a in result.attempts if a.outcome != "ok"]}
        line = facts_line(facts)
        if result.demo:
            line += f" · answered by the offline demo model because {result.demo_reason}"
        return {"target": target, "text": result.text, "facts": line}

    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:
        return list(pool.map(one, targets))


# ------------------------------------------------------------------ agent tools in chat

_TOOL_HINT = re.compile(
    r"\b(find|search|look\s+up|list|show|which|recommend)\b[^.?!]*\b(models?|spaces?|datasets?|papers?|docs?|"
    r"documentation)\b|\bstatus\s+of\b|\b(restart|pause|delete|logs?\s+of)\b[^.?!]*\bspaces?\b|"
    r"\b[\w.-]+/[\w.-]+\b[^.?!]*\b(status|logs?|running|stage)\b", re.I)


def wants_tools(prompt: str, servers: Iterable[str] = ()) -> bool:
    """Does this request look like Hub work (find a model, status of a Space…), or name one of the remote
    MCP `servers` ("ask notebook to…"), rather than a chat?"""
    prompt = prompt or ""
    return bool(_TOOL_HINT.search(prompt)) or any(re.search(rf"\b{re.escape(name)}\b", prompt, re.I)
                                                  for name in servers)


def step_view(step: Any) -> dict[str, Any]:
    """A tool step as the conversation keeps it (plain data, so it survives reruns)."""
    return {"title": step.title, "outcome": step.outcome, "arguments": step.arguments, "result": step.result,
            "duration_ms": round(step.duration_ms, 1)}


def agent_facts(result: Any, elapsed_ms: float | None = None) -> str:
    """The routing facts line for an agent answer: the whole turn's time (`elapsed_ms`: model calls and tool
    calls, else the steps' sum), its last model call, and the tool calls made."""
    last = result.last
    facts: dict[str, Any] = {"label": "TOOLS", "confidence": 1.0}
    if elapsed_ms is None:
        elapsed_ms = sum(s.duration_ms for s in result.steps) + sum(
            (a.latency_ms or 0) for a in (last.attempts if last is not None else []))
    if last is not None:
        facts.update(provider=last.provider, model=last.model, key_source=last.key_source,
                     latency_ms=elapsed_ms, latency_note=" in all", tokens_out=last.usage.tokens_out,
                     cost_usd=last.usage.cost_usd,
                     fallbacks=[f"{a.provider} {a.outcome}" for a in last.attempts if a.outcome != "ok"])
    line = facts_line(facts)
    tools = len(result.steps)
    return f"{line} · {tools} tool call{'s' if tools != 1 else ''}" if tools else line


LONG_MESSAGE_CHARS = 3_000          # longer messages show their start, with the full text one click away
LONG_MESSAGE_LINES = 40
PREVIEW_CHARS = 1_200


def collapsed(text: str) -> str | None:
    """The shortened form of a long message (its first ~1,200 characters, cut at a line or word end, with
    how much is left), or None when the message is short enough to show in full.

    collapsed("word " * 20_000)   # 'word word … word …\\n\\n*(98,800 more characters)*'
    """
    if len(text) <= LONG_MESSAGE_CHARS and text.count("\n") < LONG_MESSAGE_LINES:
        return None
    head = "\n".join(text[:PREVIEW_CHARS].splitlines()[:LONG_MESSAGE_LINES // 2])
    cut = max(head.rfind("\n"), head.rfind(" "))
    if cut > len(head) // 2:
        head = head[:cut]
    head = head.rstrip()
    return f"{head} …\n\n*({len(text) - len(head):,} more characters)*"
