"""A background task's story as the user sees it: its parts and pauses, the figures of the whole task,
and how long a COMPLEX task should take. Pure functions over the store (no Streamlit), so the card is
layout only and this is tested without a browser.

    story = task_story(store, task)            # task: core.agent.manager.Task
    story.headline      # 'paused for task `a1b2` at 412 characters'
    story.totals        # UsageTotals(parts=2, latency_ms=6427.0, tokens_out=361, ...): every part summed
    story.segments      # [Segment('run', …), Segment('pause', …, by='a1b2', chars=412), Segment('run', …)]
    story.estimate      # Estimate(low_s=15, high_s=30, basis='from 12 recent answers of demo/deep-1 on demo')
    story.progress      # 0.4: running time over the middle of the estimate, never 1 before it is done
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.store import STARTED
from core.store.throughput import recent_answers

THROUGHPUT_WINDOW_S = 6 * 3600      # answers older than this say little about the provider today
DEFAULT_COMPLEX_TOKENS = 600        # a long answer's size until this console has finished some
_RUN_ENDS = {"interrupted", "paused", "recovered", "done", "failed", "cancelled"}
_PAUSES = {"interrupted", "paused", "recovered"}
_ENDS = {"done", "failed", "cancelled"}


@dataclass
class Segment:
    """A stretch of the task's life: `run` (streaming) or `pause`; `end` None while it lasts."""

    kind: str
    start: float
    end: float | None = None
    by: str | None = None               # pause: the task it made way for; None: the user or a restart
    why: str | None = None              # pause: interrupted | paused | recovered
    chars: int | None = None            # pause: characters saved at the checkpoint
    reason: str | None = None           # pause: why it waits, when the app says so (e.g. for the visitor's keys)

    def seconds(self, now: float) -> float:
        return max(0.0, (self.end if self.end is not None else now) - self.start)


@dataclass
class UsageTotals:
    """Every attempt of one task, summed: the parts it answered in (`ok` rows) and the failed attempts."""

    parts: int = 0
    failed: int = 0
    latency_ms: float | None = None
    ttft_ms: float | None = None        # of the first part: when the user first saw text
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None


@dataclass
class Estimate:
    low_s: float
    high_s: float
    basis: str

    @property
    def middle_s(self) -> float:
        return (self.low_s + self.high_s) / 2

    def words(self) -> str:
        return f"~{format_seconds(self.low_s)}–{format_seconds(self.high_s)}"


@dataclass
class TaskStory:
    task_id: str
    status: str
    headline: str
    segments: list[Segment] = field(default_factory=list)
    totals: UsageTotals = field(default_factory=UsageTotals)
    estimate: Estimate | None = None
    running_s: float = 0.0              # time spent streaming, pauses left out
    elapsed_s: float = 0.0              # wall time since it first started
    progress: float = 0.0
    chars: int = 0

    @property
    def pauses(self) -> list[Segment]:
        return [s for s in self.segments if s.kind == "pause"]


# ------------------------------------------------------------------ pure pieces


def timeline(events: Sequence[Mapping[str, Any]]) -> list[Segment]:
    """Runs and pauses from a task's events (oldest first): `started` opens a run; interrupted, paused or
    recovered close it and open a pause (its `checkpointed` event gives the characters saved); done,
    failed or cancelled close whatever is open."""
    segments: list[Segment] = []
    for event in events:
        kind, ts, data = event["kind"], event["ts"], event.get("data") or {}
        current = segments[-1] if segments and segments[-1].end is None else None
        if kind == "started":
            if current is not None:
                current.end = ts
            segments.append(Segment("run", ts))
        elif kind in _RUN_ENDS and current is not None:
            current.end = ts
        if kind in _PAUSES:
            segments.append(Segment("pause", ts, by=data.get("interrupted_by"), why=kind,
                                    chars=data.get("partial_chars"), reason=data.get("reason")))
        elif kind == "checkpointed" and segments and segments[-1].kind == "pause":
            segments[-1].chars = data.get("partial_chars", segments[-1].chars)
    return segments


def usage_totals(rows: Iterable[Mapping[str, Any]]) -> UsageTotals:
    """Sum a task's usage rows: answered parts' latency and tokens, every attempt's cost; attempts still
    in flight (`started`) are left out until they end."""
    totals = UsageTotals()

    def add(name: str, value: Any) -> None:
        if value is not None:
            setattr(totals, name, (getattr(totals, name) or 0) + value)

    for row in rows:
        if row.get("outcome") == STARTED:
            continue
        add("cost_usd", row.get("cost_usd"))
        if row.get("outcome") != "ok":
            totals.failed += 1
            continue
        totals.parts += 1
        if totals.ttft_ms is None:
            totals.ttft_ms = row.get("ttft_ms")
        for name in ("latency_ms", "tokens_in", "tokens_out"):
            add(name, row.get(name))
    return totals


def estimate_from(rates: Sequence[float], expected_tokens: float, basis: str) -> Estimate | None:
    """Seconds for `expected_tokens` at the slow and fast quartiles of `rates` (tokens/s), widened to at
    least 0.75x–1.5x of the middle and rounded out to whole 5 s steps: a range, not a promise."""
    rates = sorted(r for r in rates if r > 0)
    if not rates or expected_tokens <= 0:
        return None
    fast = rates[min(len(rates) - 1, math.ceil(0.75 * len(rates)) - 1)]
    slow = rates[max(0, math.ceil(0.25 * len(rates)) - 1)]
    middle = expected_tokens / statistics.median(rates)
    low, high = min(expected_tokens / fast, 0.75 * middle), max(expected_tokens / slow, 1.5 * middle)
    step = 5 if high > 10 else 1
    low_s = max(step, math.floor(low / step) * step)
    return Estimate(low_s, max(low_s + step, math.ceil(high / step) * step), basis)


def progress(status: str, running_s: float, estimate: Estimate | None) -> float:
    """0..1 for the progress bar: done is 1; a running task moves towards 0.95 over the estimate's middle."""
    if status == "done":
        return 1.0
    if estimate is None or estimate.middle_s <= 0:
        return 0.0
    return round(min(0.95, running_s / estimate.middle_s), 3)


def format_seconds(seconds: float) -> str:
    """`8 s`, `1 min 05 s`: short enough for a card."""
    seconds = int(round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def headline(status: str, segments: Sequence[Segment], chars: int) -> str:
    """What happened last, in words: 'paused for task `q1` at 412 characters', 'resumed at 412 characters
    after task `q1`', 'cancelled at 830 characters', 'done in 2 parts (paused once)'."""
    pauses = [s for s in segments if s.kind == "pause"]
    last = pauses[-1] if pauses else None
    at = f" at {last.chars:,} characters" if last and last.chars is not None else ""
    if status == "paused" and last is not None:
        if last.why == "interrupted":
            return f"paused for task `{last.by}`{at}; it resumes when that answer ends"
        if last.why == "recovered":
            return f"paused when the app stopped{at}: {last.reason}" if last.reason else \
                f"paused when the app stopped{at}; resume it to continue"
        return f"paused by you{at}" if at else "paused before it started"
    if status == "queued":
        return "resuming: waiting for a worker" if last is not None else "waiting for a worker"
    if status == "running":
        if last is None:
            return "running"
        after = f" after task `{last.by}`" if last.by else ""
        return f"resumed{at}{after}"
    if status == "cancelled":
        return f"cancelled at {chars:,} characters" if chars else "cancelled before it started"
    if status == "failed":
        return f"failed at {chars:,} characters" if chars else "failed before any text"
    if status == "done" and pauses:
        return f"done in {len(pauses) + 1} parts (paused {'once' if len(pauses) == 1 else f'{len(pauses)} times'})"
    return status


def timeline_bar(segments: Sequence[Segment], now: float) -> list[dict[str, Any]]:
    """The small timeline's pieces: kind, share of the whole (0..1) and a label such as `▶ 2.4 s` or
    `⏸ 0.9 s for q1`; empty when nothing ran yet."""
    total = sum(s.seconds(now) for s in segments)
    if total <= 0:
        return []
    out = []
    for s in segments:
        secs = s.seconds(now)
        label = f"{'▶' if s.kind == 'run' else '⏸'} {secs:.1f} s"
        if s.kind == "pause":
            label += f" for task {s.by}" if s.by else (" (restart)" if s.why == "recovered" else " (by you)")
        out.append({"kind": s.kind, "share": secs / total, "label": label, "ongoing": s.end is None})
    return out


_HEADING = re.compile(r"^(#{1,3})(\s)", re.M)


def compact_markdown(text: str) -> str:
    """Headings shrunk to bold-sized level 5, so a report reads as a card's text, not a page."""
    return _HEADING.sub(lambda m: "#####" + m.group(2), text or "")


# ------------------------------------------------------------------ over the store


def tier_estimate(store: Any, provider: str | None, model: str | None, *, task_id: str | None = None,
                  now: float | None = None) -> Estimate | None:
    """How long a COMPLEX answer from `provider`/`model` should take: the recent tokens per second of that
    model's answers (of any model of the provider when it has none yet), over the usual size of a long
    answer here (recent COMPLEX tasks' summed tokens, else DEFAULT_COMPLEX_TOKENS)."""
    if not provider:
        return None
    since = (now or time.time()) - THROUGHPUT_WINDOW_S
    rows = recent_answers(store, [(provider, model)], since=since)
    basis = f"{model} on {provider}"
    if not rows:
        rows = recent_answers(store, [(provider, None)], since=since)
        basis = f"other models on {provider}"
    rows = [r for r in rows if r["task_id"] != task_id]
    if not rows:
        return None
    rates = [r["tokens_out"] / (r["latency_ms"] / 1000) for r in rows]
    sizes: dict[str, int] = {}
    for r in rows:
        if r["label"] == "COMPLEX" and r["task_id"]:
            sizes[r["task_id"]] = sizes.get(r["task_id"], 0) + r["tokens_out"]
    expected = statistics.median(sizes.values()) if sizes else DEFAULT_COMPLEX_TOKENS
    return estimate_from(rates, expected, f"from {len(rates)} recent answer{'s' * (len(rates) != 1)} of {basis}")



def task_story(store: Any, task: Any, now: float | None = None) -> TaskStory:
    """Everything the task card shows about `task` (a core.agent.manager.Task), from its events and usage rows."""
    now = now or time.time()
    segments = timeline(store.events(task_id=task.id))
    text = task.result if task.status == "done" else task.partial_text
    chars = len(text or "")
    runs = [s for s in segments if s.kind == "run"]
    running_s = sum(s.seconds(now) for s in runs)
    estimate = None
    if task.label == "COMPLEX" and task.status != "done":
        estimate = tier_estimate(store, task.provider, task.model, task_id=task.id, now=now)
    end = segments[-1].end if segments and task.status in _ENDS else None
    return TaskStory(task.id, task.status, headline(task.status, segments, chars), segments,
                     usage_totals(store.usage_rows(task_id=task.id)), estimate, running_s,
                     ((end or now) - runs[0].start) if runs else 0.0, progress(task.status, running_s, estimate),
                     chars)


def totals_line(totals: UsageTotals, *, count: bool = True) -> str:
    """`2 parts · 6,427 ms (TTFT 180 ms) · 361 tokens out · $0`: the whole task, every part summed
    (`count=False` leaves the number of parts out, when the headline already says it)."""
    if not totals.parts:
        return ""
    parts = [f"{totals.parts} parts" if totals.parts > 1 else "1 part"] if count else []
    if totals.latency_ms is not None:
        ttft = f" (TTFT {totals.ttft_ms:,.0f} ms)" if totals.ttft_ms is not None else ""
        parts.append(f"{totals.latency_ms:,.0f} ms{ttft}")
    if totals.tokens_out is not None:
        parts.append(f"{totals.tokens_out:,} tokens out")
    if totals.cost_usd is not None:
        parts.append(f"${totals.cost_usd:.6f}" if totals.cost_usd else "$0")
    if totals.failed:
        parts.append(f"{totals.failed} failed attempt{'s' * (totals.failed != 1)}")
    return " · ".join(parts)


def progress_words(story: TaskStory) -> str:
    """The progress bar's text: `running for 8 s · estimate ~15–30 s`, `took 14 s (1 s of it paused)`."""
    est = f" · estimate {story.estimate.words()}" if story.estimate else ""
    ran = format_seconds(story.running_s)
    paused_s = max(0.0, story.elapsed_s - story.running_s)
    if story.status == "running":
        return f"running for {ran}{est}"
    if story.status == "paused":
        return f"{ran} of writing so far{est}"
    if story.status == "queued":
        return f"{ran} of writing so far{est}" if story.running_s else f"not started yet{est}"
    if story.status == "done":
        return f"took {format_seconds(story.elapsed_s)}" + (f" ({format_seconds(paused_s)} of it paused)"
                                                            if story.pauses else "")
    return f"stopped after {ran} of writing"
