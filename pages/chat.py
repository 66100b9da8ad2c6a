"""Chat: talk to the manager agent; every reply shows how it was routed."""

import streamlit as st

from core.app.chat import ChatOptions
from core.app.chat_widgets import chat_message_view, restored_notice, streamed_answer, task_card
from core.app.views.chat import compare_targets
from core.app.widgets import demo_banner, page

svc, ctx = page()
st.title("💬 Chat")
demo_banner(svc, ctx)
if svc.manager is None:
    st.error(f"Routing rules are invalid, so the manager cannot classify requests: {svc.rules_error}. "
             "Fix them on the **Routing** page.")
    st.stop()

with st.expander("Routing options", expanded=False):
    c1, c2, c3 = st.columns([1, 1, 1])
    choices = {"auto (manager decides)": "auto (manager decides)", **svc.providers.chat_choices(ctx)}
    chosen = c1.selectbox("Provider", list(choices), format_func=choices.get, key="chat_provider",
                          help="Pin a provider; the others stay as fallbacks. Order and status follow your "
                               "settings on the Providers page.")
    model = c2.text_input("Model", key="chat_model", placeholder="tier default",
                          help="Override the model, e.g. openai/gpt-4o-mini or org/model:cheapest")
    compare = c3.toggle("Compare mode", key="chat_compare", help="Send one prompt to 2–3 models side by side")
    use_tools = c3.toggle("Hub tools", value=True, key="chat_tools",
                          help="Let the agent search the Hub and manage Spaces when a request asks for it. "
                               "Changes to a Space always ask you first.")
    targets = []
    if compare:
        choices = compare_targets(svc.router, ctx.keys)
        targets = st.multiselect("Compare these (2–3)", choices, default=choices[:2], max_selections=3,
                                 key="chat_compare_targets")
options = ChatOptions(None if chosen.startswith("auto") else chosen, model.strip() or None, compare, targets,
                      use_tools)

restored_notice(svc, ctx)
for message in ctx.messages:
    chat_message_view(message)

prompt = st.chat_input("Ask anything: quick questions are answered now, long tasks run in the background")
if prompt:
    turn = svc.chat.send(ctx, prompt, options)
    if turn.kind == "refused":
        st.error(turn.message)
    elif turn.kind == "stream":
        chat_message_view(ctx.messages[-1])
        svc.chat.finish_stream(ctx, turn, streamed_answer(svc, ctx, turn))
        st.rerun()
    else:
        st.rerun()

pending = ctx.pending_tool
if pending is not None and pending.resolved is None:
    with st.container(border=True):
        st.warning(f"**The agent wants to change something.** {pending.summary}", icon="✋")
        st.json(pending.shown_arguments, expanded=True)
        approve, decline, _ = st.columns([1, 1, 4])
        choice = True if approve.button("Approve", key="tool_approve", type="primary") else \
            False if decline.button("Decline", key="tool_decline") else None
        if choice is not None:
            with st.spinner("Running it…" if choice else "Telling the agent…"):
                svc.chat.confirm(ctx, choice)
            st.rerun()


@st.fragment(run_every=1.0)
def background_tasks() -> None:
    """Live progress of this session's background tasks, with pause, resume and cancel."""
    tasks = svc.tasks.mine(ctx)
    if tasks:
        st.divider()
        st.markdown("#### Background tasks")
    for task in tasks:
        if task_card(svc, ctx, task):
            st.rerun(scope="fragment")


background_tasks()
