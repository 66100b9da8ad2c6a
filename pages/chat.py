"""Chat: talk to the manager agent; every reply shows how it was routed."""

import streamlit as st

from core.app.views.chat import (
    agent_facts,
    compare_targets,
    facts_line,
    interruption_notes,
    reply_facts,
    run_compare,
    step_view,
    wants_tools,
)
from core.app.views.spaces import choose_hub_token, session_clients
from core.app.widgets import demo_banner, identity, require_services, session_keys
from core.errors import SpacesOSError
from core.tools.agent_loop import AgentLoop
from core.tools.registry import build_hub_tools

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
    use_tools = c3.toggle("Hub tools", value=True, key="chat_tools",
                          help="Let the agent search the Hub and manage Spaces when a request asks for it. "
                               "Changes to a Space always ask you first.")
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
            for step in message.get("steps", []):
                with st.expander(f"🔧 {step['title']}", expanded=False):
                    st.caption(f"{step['duration_ms']:.0f} ms")
                    st.json({"arguments": step["arguments"], "result": step["result"]}, expanded=False)
            st.markdown(message["content"])
            if message.get("facts"):
                st.caption(message["facts"])
            for note in message.get("notes", []):
                st.caption(note)


def agent_loop() -> AgentLoop:
    """The tool-using loop with this session's Hub clients (its own HF token, else the shared one)."""
    token = choose_hub_token(svc.config.providers, keys, hosted=svc.hosted)
    hub, spaces = session_clients(ss, endpoint=svc.hub_endpoint, token=token, router_url=None, store=svc.store,
                                  session=who)
    return AgentLoop(svc.router, build_hub_tools(hub, spaces), svc.store)


def show_agent_result(result) -> None:
    """Render an agent answer, keep it in the conversation, and park a confirmation if one is needed."""
    steps = [step_view(s) for s in result.steps]
    for step in steps:
        with st.expander(f"🔧 {step['title']}", expanded=False):
            st.json({"arguments": step["arguments"], "result": step["result"]}, expanded=False)
    if result.text:
        st.markdown(result.text)
    facts = agent_facts(result)
    st.caption(facts)
    ss.messages.append({"role": "assistant", "content": result.text or "", "steps": steps, "facts": facts})
    ss.pending_tool = result.pending

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
                if use_tools and wants_tools(prompt):
                    with st.spinner("Working with Hub tools…"):
                        result = agent_loop().run(history + [{"role": "user", "content": prompt}], keys=keys,
                                                  session=who, provider=provider, model=chosen_model or None)
                    show_agent_result(result)
                    st.rerun()       # draw it from the history, with the confirmation box if one is pending
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


pending = ss.get("pending_tool")
if pending is not None and pending.resolved is None:
    with st.container(border=True):
        st.warning(f"**The agent wants to change something.** {pending.summary}", icon="✋")
        st.json(pending.shown_arguments, expanded=True)
        approve, decline, _ = st.columns([1, 1, 4])
        choice = None
        if approve.button("Approve", key="tool_approve", type="primary"):
            choice = True
        if decline.button("Decline", key="tool_decline"):
            choice = False
        if choice is not None:
            try:
                with st.spinner("Running it…" if choice else "Telling the agent…"):
                    result = agent_loop().continue_after_confirmation(pending, choice, keys=keys)
            except (SpacesOSError, ValueError) as e:
                st.error(str(e))
            else:
                with st.chat_message("assistant"):
                    show_agent_result(result)
                st.rerun()


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
