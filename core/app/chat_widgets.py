"""Streamlit pieces of the Chat page: one message of the conversation, one background task card."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.agent.manager import Task
from core.app.services import Services
from core.app.session import SessionContext
from core.app.views.chat import facts_line, reply_facts

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
            st.markdown(message["content"])
        if isinstance(message.get("error"), str):      # a failed answer: its words, after any partial text
            st.error(message["error"])
        if message.get("facts"):
            st.caption(message["facts"])
        for note in message.get("notes", []):
            st.caption(note)


def task_card(svc: Services, ctx: SessionContext, task: Task) -> bool:
    """One background task with pause, resume and cancel in fixed places; True when a button was used."""
    with st.container(border=True):
        st.markdown(f"{STATUS_ICON[task.status]} **{task.status}** · `{task.id}` · {task.label} · {task.prompt[:90]}")
        text = task.result if task.status == "done" else task.partial_text
        if text:
            st.markdown(text if task.status == "done" else f"{text[-600:]} ▌")
        if task.error:
            st.error(task.error)
        shown = svc.tasks.controls(task)
        cols = st.columns([1, 1, 1, 5])
        for col, (action, label) in zip(cols, (("pause", "Pause"), ("resume", "Resume"), ("cancel", "Cancel")),
                                        strict=False):
            if shown[action] and col.button(label, key=f"{action}_{task.id}"):
                getattr(svc.tasks, action)(ctx, task.id)
                return True
        if task.status == "done":
            st.caption(facts_line(reply_facts(svc.store, task.id)))
    return False


def task_row(svc: Services, ctx: SessionContext, task: Task) -> bool:
    """One line of the Routing page's queue; True when a button was used."""
    cols = st.columns([1.3, 1, 1, 4, 0.9, 0.9, 0.9])
    cols[0].markdown(f"`{task.id}`")
    cols[1].markdown(f"{STATUS_ICON[task.status]} **{task.status}**")
    cols[2].markdown(f"{task.label} {task.confidence or 0:.0%}")
    cols[3].markdown(task.prompt[:80])
    shown = svc.tasks.controls(task)
    for col, (action, label) in zip(cols[4:], (("pause", "Pause"), ("resume", "Resume"), ("cancel", "Cancel")),
                                    strict=True):
        if shown[action] and col.button(label, key=f"q_{action}_{task.id}"):
            getattr(svc.tasks, action)(ctx, task.id)
            return True
    return False
