"""Chat: talk to the manager agent; every reply shows how it was routed."""

import streamlit as st

from core.chat_view import compare_targets, facts_line, interruption_notes, reply_facts, run_compare
from core.errors import SpacesOSError
from core.widgets import demo_banner, identity, require_services, session_keys

svc = require_services()
ss = st.session_state
keys = session_keys()
who = identity(svc)
max_chars = svc.hosted_settings.max_message_chars if svc.hosted else 200_000
manager = svc.manager
st.title("💬 Chat")
demo_banner(svc)
if manager is None:
    st.error(f"Routing rules are invalid, so the manager cannot classify requests: {svc.rules_error}. "
             "Fix them on the **Routing** page.")
    st.stop()

providers = [p.name for p in svc.config.providers if p.kind != "demo" or svc.router.is_demo(keys)]
with st.expander("Routing options", expanded=False):
    c1, c2, c3 = st.columns([1, 1, 1])
    chosen_provider = c1.selectbox("Provider", ["auto (manager decides)", *providers], key="chat_provider",
                                   help="Pin a provider; the others stay as fallbacks.")
    chosen_model = c2.text_input("Model", key="chat_model", placeholder="tier default",
                                 help="Override the model, e.g. openai/gpt-4o-mini or org/model:cheapest")
    compare = c3.toggle("Compare mode", key="chat_compare", help="Send one prompt to 2–3 models side by side")
    targets = []
    if compare:
        options = compare_targets(svc.router, keys)
        targets = st.multiselect("Compare these (2–3)", options, default=options[:2], max_selections=3,
                                 key="chat_compare_targets")

for message in ss.messages:
    with st.chat_message(message["role"]):
        if message.get("compare"):
            cols = st.columns(len(message["compare"]))
            for col, item in zip(cols, message["compare"], strict=True):
                col.markdown(f"**{item['target']}**")
                col.markdown(item["text"] if item.get("text") else f":red[{item['error']}]")
                if item.get("facts"):
                    col.caption(item["facts"])
        else:
            st.markdown(message["content"])
            if message.get("facts"):
                st.caption(message["facts"])
            for note in message.get("notes", []):
                st.caption(note)

prompt = st.chat_input("Ask anything: quick questions are answered now, long tasks run in the background")
if prompt and len(prompt) > max_chars:
    st.error(f"That message is {len(prompt):,} characters; the limit here is {max_chars:,}. "
             "Shorten it or attach less text.")
    prompt = None
if prompt:
    history = [{"role": m["role"], "content": m["content"]} for m in ss.messages if not m.get("compare")][-12:]
    ss.messages.append({"role": "user", "content": prompt})
    with st.chat_message("user"):
        st.markdown(prompt)
    with st.chat_message("assistant"):
        if compare:
            if len(targets) < 2:
                st.warning("Pick at least two models to compare.")
            else:
                with st.spinner("Asking each model…"):
                    items = run_compare(svc.router, prompt, targets, keys, who, history)
                cols = st.columns(len(items))
                for col, item in zip(cols, items, strict=True):
                    col.markdown(f"**{item['target']}**")
                    col.markdown(item["text"] if item.get("text") else f":red[{item['error']}]")
                    if item.get("facts"):
                        col.caption(item["facts"])
                ss.messages.append({"role": "assistant", "content": "", "compare": items})
        else:
            provider = None if chosen_provider.startswith("auto") else chosen_provider
            try:
                task, chunks = manager.submit_streaming(prompt, who, keys, history=history,
                                                        provider=provider, model=chosen_model or None)
                if task.label == "COMPLEX":
                    ss.task_ids.append(task.id)
                    text = (f"Started background task `{task.id}`: this looks like long work "
                            f"(COMPLEX, {task.confidence:.0%}). Progress shows below; you can keep chatting.")
                    st.markdown(text)
                    ss.messages.append({"role": "assistant", "content": text,
                                        "facts": facts_line(reply_facts(svc.store, task.id))})
                else:
                    text = st.write_stream(chunks)
                    facts = reply_facts(svc.store, task.id)
                    finished = manager.get(task.id)
                    if finished.status == "failed":
                        st.error(finished.error)
                        text = text or ""
                    notes = interruption_notes(svc.store, task.id)
                    st.caption(facts_line(facts))
                    for note in notes:
                        st.caption(note)
                    ss.messages.append({"role": "assistant", "content": text or finished.error or "",
                                        "facts": facts_line(facts), "notes": notes})
            except SpacesOSError as e:
                st.error(str(e))
                ss.messages.append({"role": "assistant", "content": f"⚠️ {e}"})


@st.fragment(run_every=1.0)
def background_tasks() -> None:
    """Live progress of this session's background tasks, with pause, resume and cancel."""
    tasks = [manager.get(t) for t in ss.task_ids]
    tasks = [t for t in tasks if t is not None]
    if not tasks:
        return
    st.divider()
    st.markdown("#### Background tasks")
    for task in reversed(tasks[-5:]):
        with st.container(border=True):
            icon = {"queued": "⏳", "running": "▶️", "paused": "⏸️", "done": "✅", "failed": "❌",
                    "cancelled": "⏹️"}[task.status]
            st.markdown(f"{icon} **{task.status}** · `{task.id}` · {task.label} · {task.prompt[:90]}")
            text = task.result if task.status == "done" else task.partial_text
            if text:
                st.markdown(text if task.status == "done" else f"{text[-600:]} ▌")
            if task.error:
                st.error(task.error)
            c1, c2, c3, _ = st.columns([1, 1, 1, 5])
            if task.status == "running" and c1.button("Pause", key=f"pause_{task.id}"):
                manager.pause(task.id)
                st.rerun(scope="fragment")
            if task.status == "paused" and c2.button("Resume", key=f"resume_{task.id}"):
                manager.resume(task.id, keys)
                st.rerun(scope="fragment")
            if task.status in ("queued", "running", "paused") and c3.button("Cancel", key=f"cancel_{task.id}"):
                manager.cancel(task.id)
                st.rerun(scope="fragment")
            if task.status == "done":
                st.caption(facts_line(reply_facts(svc.store, task.id)))


background_tasks()
