"""The built-in demo provider: offline, deterministic, streamed at a human pace, and labelled DEMO.

It answers the console's demo scenarios plausibly (a quick question, a long report, an outage),
and continues a partial answer exactly where it stopped, so interrupt → resume can be shown offline.
It is only used when no other provider has a key.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from core.llm.providers.base import ChatRequest, Completion, Health, ModelInfo, Provider


class DemoToolTurn(Protocol):
    text: str
    tool_calls: list[dict[str, Any]] | None


@dataclass
class DemoResponders:
    """What the demo model knows beyond its built-in answers, injected by the layers above (`core.demo`):
    `answer` may claim a conversation (the build agent's prompts), `tool_turn` plans tool calls."""

    answer: Callable[[list[dict]], str | None] | None = None
    tool_turn: Callable[[list[dict], list[dict]], DemoToolTurn | None] | None = None


RESPONDERS = DemoResponders()


def install_responders(responders: DemoResponders) -> None:
    """Replace the injected responders for every demo provider in this process."""
    global RESPONDERS
    RESPONDERS = responders

_ARITHMETIC = re.compile(r"(-?\d+(?:\.\d+)?)\s*([+\-*/x×])\s*(-?\d+(?:\.\d+)?)")
_URGENT = re.compile(r"\b(down|outage|urgent|asap|immediately|right now|broken|crash\w*|5\d\d|on fire|"
                     r"production|prod)\b", re.I)
_COMPLEX = re.compile(r"\b(report|plan|design|architecture|analy[sz]e|analysis|compare|essay|strategy|"
                      r"write|implement|explain in detail|step by step|proposal|review)\b", re.I)
_GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.I)


def _last_user_text(messages: list[dict]) -> str:
    for m in reversed(messages):
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            return m["content"]
    return ""


_TOPIC_AFTER = re.compile(r"\b(?:report|analysis|plan|essay|overview|summary|review|comparison|study|article)"
                          r"\s+(?:on|about|of|for|comparing)\s+(?P<topic>.+)", re.I)
_TOPIC_VERB = re.compile(r"^(?:(?:please|can you|could you|kindly)\s+)*(?:write|draft|prepare|produce|create|"
                         r"give me|design|plan|analy[sz]e|compare|explain|describe|research)\s+"
                         r"(?:(?:me|a|an|the|detailed|long|short|full|thorough|report|analysis)\s+)*(?P<topic>.+)", re.I)


def _topic(prompt: str) -> str:
    """The subject of a request as a noun phrase, words kept in order, so a title reads as English:
    "Write a detailed report on the pros and cons of microservices" -> "the pros and cons of microservices"."""
    text = " ".join(prompt.split()).strip(" .?!:;")
    m = _TOPIC_AFTER.search(text) or _TOPIC_VERB.search(text)
    topic = (m.group("topic") if m else text).strip(" .?!:;")
    if len(topic) > 100:
        topic = topic[:100].rsplit(" ", 1)[0] + "…"
    return topic or "the request"


def _arithmetic(prompt: str) -> str | None:
    m = _ARITHMETIC.search(prompt)
    if not m:
        return None
    a, op, b = float(m.group(1)), m.group(2), float(m.group(3))
    result = {"+": a + b, "-": a - b, "*": a * b, "x": a * b, "×": a * b}.get(op)
    if op == "/":
        result = a / b if b else None
    if result is None:
        return "Division by zero has no answer."
    shown = int(result) if float(result).is_integer() else round(result, 6)
    return f"{m.group(1)} {op} {m.group(3)} = {shown}."


def _report(topic: str) -> str:
    sections = [
        f"# Report: {topic[:1].upper() + topic[1:]}",
        "## Summary",
        f"This report looks at {topic} from three angles: where things stand today, what is driving change, "
        "and what to do next. Each section ends with a concrete recommendation.",
        "## 1. Current state",
        "Most teams approach this incrementally. The common pattern is a small pilot, a handful of "
        "champions, and metrics that are tracked by hand. That works at first but does not scale: results "
        "are hard to compare and the knowledge stays with a few people.",
        "## 2. Drivers of change",
        "- Cost: usage-based pricing makes every extra request visible on the bill.\n"
        "- Latency: users notice anything slower than about one second to the first token.\n"
        "- Reliability: a single provider outage should not stop the product.\n"
        "- Governance: keys, data residency and audit trails are now part of every review.",
        "## 3. Options",
        "| option | cost | effort | risk |\n|---|---|---|---|\n"
        "| keep the status quo | low | none | rising |\n"
        "| route across providers with fallback | medium | low | low |\n"
        "| build an in-house platform | high | high | medium |",
        "## 4. Recommendation",
        "Route the requests behind this work through a manager that classifies each one, sends quick questions to "
        "small fast models and long tasks to strong ones, and falls back to a second provider on errors. "
        "Measure latency, cost and error rate per provider from day one, and review them weekly.",
        "## 5. Next steps",
        "1. Agree on the success metrics (median latency, cost per request, error rate).\n"
        "2. Run a two-week pilot on real traffic with two providers.\n"
        "3. Decide, with the numbers, whether to extend the pilot to every team.",
    ]
    return "\n\n".join(sections) + "\n"


def _outage(prompt: str) -> str:
    return (
        "Triage first, fix second:\n\n"
        "1. **Confirm the scope**: open the Space's runtime stage and the last 50 log lines "
        "(Spaces page → Logs). `RUNTIME_ERROR` means the app crashed; `BUILD_ERROR` means the last commit broke the build.\n"
        "2. **Roll back fast**: if the failure started with the last commit, revert it and restart the Space.\n"
        "3. **Check the dependencies**: a provider outage shows as 5xx or timeouts on the Metrics page; "
        "the router is already failing over to the next provider.\n"
        "4. **Tell your users**: post a short status note with the time you expect it back.\n"
        "5. **After the fix**: write down the cause and add a check that would have caught it.\n"
    )


def demo_answer(messages: list[dict]) -> str:
    """The full, deterministic answer the demo model gives to this conversation."""
    prompt = _last_user_text(messages).strip()
    if RESPONDERS.answer is not None and (built := RESPONDERS.answer(messages)) is not None:
        return built
    if not prompt:
        return "I'm the Spaces OS demo model. Ask me something!\n"
    if (value := _arithmetic(prompt)) is not None:
        return value
    if _GREETING.match(prompt) and len(prompt) < 60:
        return ("Hello! I'm the Spaces OS demo model: I run offline, so you can try the console without keys. "
                "Add a Hugging Face or OpenRouter key on the Providers page to talk to real models.")
    if _URGENT.search(prompt):
        return _outage(prompt)
    if _COMPLEX.search(prompt) or len(prompt) > 280:
        return _report(_topic(prompt))
    digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    openers = ["Short answer:", "In brief:", "Quick answer:"]
    return (f"{openers[digest % 3]} this is the demo model, so the reply is illustrative. For “{prompt[:80]}”, "
            "a real model would answer here; the routing facts below are real: the request was classified, "
            "routed and recorded like any other.")


def _chunks(text: str) -> list[str]:
    """Word-sized pieces (keeping whitespace), like a tokenizer's output."""
    return re.findall(r"\S+\s*|\s+", text)


class DemoProvider(Provider):
    kind = "demo"
    display_name = "Demo"
    default_models = ("demo/quick-1", "demo/deep-1")
    label = "DEMO"

    @property
    def pace(self) -> float:
        return float(self.config.options.get("pace_ms", 18)) / 1000.0

    def _answer(self, request: ChatRequest) -> tuple[str, str]:
        """(full answer, part still to say): a trailing assistant message is a partial answer to continue."""
        messages = request.messages
        if messages and messages[-1].get("role") == "assistant":
            partial = messages[-1].get("content") or ""
            full = demo_answer(messages[:-1])
            if full.startswith(partial):
                return full, full[len(partial):]
            return full, "\n\n(continuing) " + full[-200:]
        full = demo_answer(messages)
        return full, full

    def _completion(self, request: ChatRequest, text: str) -> Completion:
        prompt_words = sum(len(str(m.get("content", "")).split()) for m in request.messages)
        return Completion(text=text, model=request.model or self.config.default_model,
                          tokens_in=int(prompt_words * 1.3) + 4, tokens_out=int(len(text.split()) * 1.3),
                          cost_usd=0.0, finish_reason="stop")

    def _tool_turn(self, request: ChatRequest) -> Completion | None:
        """With `tools` offered, a recognisable request gets a tool call, and tool results an answer."""
        tools = request.extra.get("tools")
        turn = RESPONDERS.tool_turn(request.messages, tools) if tools and RESPONDERS.tool_turn else None
        if turn is None:
            return None
        completion = self._completion(request, turn.text)
        completion.tool_calls, completion.finish_reason = turn.tool_calls, "tool_calls" if turn.tool_calls else "stop"
        return completion

    def chat(self, request: ChatRequest, key: str | None, timeout: float) -> Completion:
        if (turn := self._tool_turn(request)) is not None:
            return turn
        _, text = self._answer(request)
        if request.max_tokens is not None:
            text = "".join(_chunks(text)[: max(1, request.max_tokens)])
        return self._completion(request, text)

    def stream(self, request: ChatRequest, key: str | None, timeout: float) -> Iterator[str | Completion]:
        turn = self._tool_turn(request)
        text = turn.text if turn is not None else self._answer(request)[1]
        pieces = _chunks(text)
        if request.max_tokens is not None:
            pieces = pieces[: max(1, request.max_tokens)]
        for piece in pieces:
            if self.pace:
                time.sleep(self.pace)
            yield piece
        yield turn or self._completion(request, "".join(pieces))

    def list_models(self, key: str | None, timeout: float = 10.0) -> list[ModelInfo]:
        return [ModelInfo(m, 0.0, 0.0, 8192, note="offline demo") for m in self.config.models]

    def health(self, key: str | None, timeout: float = 10.0) -> Health:
        return Health(True, 0.0, message="offline demo provider")
