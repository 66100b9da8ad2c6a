"""Streamlit pieces of the Chat and Routing pages: a message of the conversation, a streamed answer that says
what it paused, a background task card, a row of the task queue and the decision log with its details."""

from __future__ import annotations

import html
import time
from typing import Any

import pandas as pd
import streamlit as st

from core.agent.manager import ACTIVE, Task
from core.app.services import Services
from core.app.session import SessionContext
from core.app.views.chat import collapsed, interruption_notes
from core.app.views.routing import LOG_COLUMNS
from core.app.views.task_story import (
    compact_markdown,
    progress_words,
    task_story,
    timeline_bar,
    totals_line,
)

STATUS_ICON = {"queued": "⏳", "running": "▶️", "paused": "⏸️", "done": "✅", "failed": "❌", "cancelled": "⏹️"}


def chat_message_view(message: dict[str, Any]) -> None:
    with st.chat_message(message["role"]):
        if message.get("compare"):
            cols = st.columns(len(message["compare"]))
            for col, item in zip(cols, message["compare"], strict=True):
                col.markdown(f"**{item['target']}**")
                col.markdown(item["text"] if item.get("text") else f":red[{item['error']}]")
                if item.get("facts"):
                    col.caption(item["facts"])
            return
        for step in message.get("steps", []):
            with st.expander(f"🔧 {step['title']}", expanded=False):
                st.caption(f"{step['duration_ms']:.0f} ms")
                st.json({"arguments": step["arguments"], "result": step["result"]}, expanded=False)
        if message.get("content"):
            message_text(message["content"])
        if isinstance(message.get("error"), str):      # a failed answer: its words, after any partial text
            st.error(message["error"])
        if message.get("facts"):
            st.caption(message["facts"])
        for note in message.get("notes", []):
            st.caption(note)


def restored_notice(svc: Services, ctx: SessionContext) -> None:
    """After a restart: which paused tasks came back to this Chat, and where the others wait."""
    restored = svc.tasks.restore(ctx)
    words = []
    if restored.in_chat:
        n = len(restored.in_chat)
        words.append(f"The console restarted while {n} of your task{'s' if n > 1 else ''} ran: "
                     f"{'they are' if n > 1 else 'it is'} paused below with the answer so far. Press **Resume**.")
    if restored.continuing:
        n = len(restored.continuing)
        words.append(f"The console process running {n} of your task{'s' if n > 1 else ''} stopped: "
                     f"{'they continue' if n > 1 else 'it continues'} below from where {'they' if n > 1 else 'it'} "
                     "stopped.")
    if restored.in_queue:
        words.append(f"{restored.in_queue} more paused task{'s' if restored.in_queue > 1 else ''} wait in the "
                     "**Routing** page's task queue.")
    if restored.unclaimed:
        words.append("Tasks paused by a restart that this browser cannot claim as yours (another visitor "
                     "identity) wait in the **Routing** page's task queue, where the operator resumes them.")
    if words:
        st.info(" ".join(words), icon="⏸️")


def message_text(text: str) -> None:
    """A message's text; a long one shortened, with the whole text in an expander below."""
    short = collapsed(text)
    if short is None:
        st.markdown(text)
        return
    st.markdown(short)
    with st.expander(f"Show the whole message ({len(text):,} characters)", expanded=False):
        st.markdown(text)


CONTROLS = (("pause", "Pause"), ("resume", "Resume"), ("cancel", "Cancel"))     # always in these places
QUEUE_COLUMNS = [1.4, 1.3, 1.5, 1.1, 1.1, 1.1]      # the request goes on its own line below: never squeezed
QUEUE_HEADERS = ("Task · request", "Status", "Label", "", "", "")
_SEGMENT_COLOURS = {"run": "#3b82f6", "pause": "#f59e0b"}


def _control_buttons(svc: Services, ctx: SessionContext, task: Task, slots: list, prefix: str) -> bool:
    """Pause, Resume and Cancel, each always in its own slot (greyed out when it does not apply) while the
    task may still run; a finished task has none. True when one was used."""
    if task.status not in ACTIVE:
        return False
    shown = svc.tasks.controls(task)
    for slot, (action, label) in zip(slots, CONTROLS, strict=True):
        if slot.button(label, key=f"{prefix}{action}_{task.id}", disabled=not shown[action], width="stretch"):
            getattr(svc.tasks, action)(ctx, task.id)
            return True
    return False


def timeline_view(segments: list[dict[str, Any]]) -> None:
    """The small timeline: runs in blue, pauses in amber, each as wide as its share of the task's time."""
    bars = "".join(f'<div title="{html.escape(s["label"])}" style="flex:{max(s["share"], 0.02):.3f};'
                   f'background:{_SEGMENT_COLOURS[s["kind"]]}"></div>' for s in segments)
    words = " · ".join(html.escape(s["label"]) for s in segments)
    st.markdown(f'<div data-testid="task-timeline" style="display:flex;gap:2px;height:8px;border-radius:4px;'
                f'overflow:hidden;margin:0.1rem 0 0.2rem 0">{bars}</div>'
                f'<div style="font-size:0.8rem;opacity:0.75">timeline: {words}</div>', unsafe_allow_html=True)


def task_card(svc: Services, ctx: SessionContext, task: Task, *, live: bool = True) -> bool:
    """One background task, compact: status and what happened last, pause/resume/cancel in fixed places, a
    progress bar with elapsed time and the estimate, the timeline when it was paused, the whole task's
    figures, and the text in an expander. `live=False` draws it without buttons (while an answer streams).
    True when a button was used."""
    now = time.time()
    story = task_story(svc.store, task, now)
    active = task.status in ACTIVE
    with st.container(border=True, key=f"task_card_{task.id}" if live else f"task_card_live_{task.id}"):
        head, *slots = st.columns([6.7, 1.1, 1.1, 1.1] if active else [1], vertical_alignment="center")
        head.markdown(f"{STATUS_ICON[task.status]} **{task.status}** · `{task.id}` · {task.label} · "
                      f"{_one_line(task.prompt, 70)}")
        if live and _control_buttons(svc, ctx, task, slots, prefix=""):
            return True
        if active:
            st.progress(story.progress, text=progress_words(story))
            if story.estimate:
                st.caption(f"{story.headline} · estimate {story.estimate.basis}")
            else:
                st.caption(story.headline)
        else:
            facts = totals_line(story.totals, count=False) if task.status == "done" else ""
            st.caption(" · ".join(part for part in (story.headline, progress_words(story), facts) if part))
        if story.pauses:
            timeline_view(timeline_bar(story.segments, now))
        if task.error:
            st.error(task.error)
        text = task.result if task.status == "done" else task.partial_text
        if text:
            title = "Answer" if task.status == "done" else "Text so far"
            with st.expander(f"{title} ({len(text):,} characters)"):
                st.markdown(compact_markdown(text) + (" ▌" if task.status == "running" else ""))
    return False


def streamed_answer(svc: Services, ctx: SessionContext, turn: Any) -> str:
    """Stream a quick answer; as soon as it starts, say which background task it paused (in the reply and
    with that task's card, drawn paused right below), and say it resumed once the answer has ended."""
    answer = st.chat_message("assistant")
    paused_cards = st.empty()
    note = answer.empty()

    def tell() -> None:
        notes = interruption_notes(svc.store, turn.task.id)
        if notes:
            note.caption("\n\n".join(notes))

    def chunks():
        told = False
        for chunk in turn.chunks:
            if not told:
                told = True
                tell()
                paused = [t for t in svc.tasks.mine(ctx) if t.status == "paused"]
                if paused:
                    with paused_cards.container():
                        st.markdown("#### Background tasks")
                        for task in paused:
                            task_card(svc, ctx, task, live=False)
            yield chunk
        tell()

    with answer:
        text = st.write_stream(chunks())
    return text if isinstance(text, str) else "".join(text or [])


def queue_header() -> None:
    """Column headers of the Routing page's task queue."""
    for col, name in zip(st.columns(QUEUE_COLUMNS), QUEUE_HEADERS, strict=True):
        if name:
            col.markdown(f"**{name}**")


def task_row(svc: Services, ctx: SessionContext, task: Task) -> bool:
    """One line of the Routing page's queue, under `queue_header()`; True when a button was used."""
    row = st.container(key=f"queue_row_{task.id}")
    cols = row.columns(QUEUE_COLUMNS, vertical_alignment="center")
    cols[0].markdown(f"`{task.id}`")
    cols[1].markdown(f"{STATUS_ICON[task.status]}\u00a0**{task.status}**")
    cols[2].markdown(f"{task.label}\u00a0{task.confidence or 0:.0%}")   # a no-break space: never wraps
    used = _control_buttons(svc, ctx, task, cols[3:], prefix="q_")
    row.caption(_one_line(task.prompt, 120))
    return used


def decision_log_view(rows: list[dict[str, Any]]) -> None:
    """The decision log in plain words; the raw message and data of the selected event (the newest when
    none is selected) one click away."""
    picked = st.dataframe(pd.DataFrame(rows, columns=[*LOG_COLUMNS, "message", "data"]), hide_index=True,
                          width="stretch", height=320, column_order=LOG_COLUMNS, on_select="rerun",
                          selection_mode="single-row", key="log_table",
                          column_config={"time": st.column_config.TextColumn(width="medium"),
                                         "what happened": st.column_config.TextColumn(width="large")})
    chosen = picked.selection.rows if picked is not None else []
    row = rows[chosen[0]] if chosen and chosen[0] < len(rows) else rows[0]
    with st.expander(f"Details: {row['kind']} · task {row['task']} · {row['time']}"
                     + ("" if chosen else " (the newest; select a row to see another)"), expanded=bool(chosen)):
        st.code(row["message"], language=None, wrap_lines=True)
        st.json(row["data"], expanded=True)


def _one_line(text: str, limit: int) -> str:
    """A prompt as one short line of plain text: no markdown headings or line breaks from the user."""
    flat = " ".join((text or "").split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return flat.replace("#", "\\#").replace("*", "\\*").replace("_", "\\_")
