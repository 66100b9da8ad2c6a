"""The Build from an idea tab of the Spaces page: the build form, the chosen run (live while it
executes, as a fragment redrawn every second; its report, actions, steps and files once it has ended)
and this session's builds. The build itself runs in a background thread (`core.app.views.build`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app.services import Services
from core.app.spaces_page.common import SpacesPageContext
from core.app.views.build import (
    SDK_OPTION_LABELS,
    SDK_OPTIONS,
    SDK_PLAN_NOTE,
    active_job,
    app_facts,
    build_token,
    builds_dir_for,
    can_resume,
    can_roll_back,
    file_language,
    files_zip,
    is_executing,
    job_for,
    money,
    ordered_files,
    plain,
    preview_policy,
    push_commands,
    resume_build,
    run_choice_label,
    run_headline,
    run_notes,
    run_rows,
    seconds_text,
    session_agent,
    start_build,
    step_views,
)
from core.app.views.spaces import HubToken, error_text, forget
from core.build.agent import MAX_IDEA_CHARS, BuildAgent
from core.build.workflow import RunState, WorkflowError
from core.hub.errors import HubActionError


def build_agent(ctx: SpacesPageContext) -> tuple[BuildAgent, HubToken, str | None]:
    """This session's build agent (its keys in memory, in the session state), and the token it deploys with."""
    svc, who = ctx.svc, ctx.who
    usable, refused = build_token(ctx.token, hosted=svc.hosted)
    agent = session_agent(st.session_state, router=svc.router, store=svc.store, endpoint=svc.hub_endpoint,
                          token=usable, keys=ctx.session.keys, session=who, space_session=who, hosted=svc.hosted,
                          allow_preview=svc.hosted_settings.allow_preview, router_url=ctx.router_url,
                          max_upload_bytes=svc.policy.max_upload_bytes)
    return agent, usable, refused


def build_section(ctx: SpacesPageContext) -> None:
    """The Build from an idea tab."""
    if ctx.svc.router is None:
        st.info("Building a Space needs a working provider config (the model writes the code): fix the "
                "config named above, then reload.", icon="⚠️")
        return
    ss = st.session_state
    agent, usable, refused = build_agent(ctx)
    if toast := ss.pop("build_toast", None):
        st.toast(toast, icon=":material/undo:")
    build_form(ctx.svc, agent, usable, refused, busy=active_job(ss) is not None)
    runs = agent.runs(limit=20)
    if not runs:
        return
    ids = [r["id"] for r in runs]
    if ss.get("build_run") not in ids:
        ss["build_run"] = ids[0]
    st.divider()
    if len(ids) > 1:
        ss["build_pick"] = ss["build_run"]
        labels = {r["id"]: run_choice_label(r, executing=is_executing(agent, r["id"])) for r in runs}
        st.selectbox("Show the build", ids, key="build_pick", format_func=labels.get,
                     on_change=lambda: ss.update(build_run=ss["build_pick"]))
    show_run(agent, ss["build_run"], hosted=ctx.svc.hosted)
    with st.expander(f"Builds in this session ({len(runs)})", icon=":material/history:"):
        executing = [rid for rid in ids if is_executing(agent, rid)]
        st.dataframe(pd.DataFrame(run_rows(runs, executing)), hide_index=True, width="stretch",
                     column_config={"started": st.column_config.TextColumn("Started", width="small"),
                                    "idea": st.column_config.TextColumn("Idea", width="large"),
                                    "status": st.column_config.TextColumn("Status", width="small"),
                                    "space": st.column_config.TextColumn("Space"),
                                    "run": st.column_config.TextColumn("Run", width="small")})


def build_form(svc: Services, agent: BuildAgent, usable: HubToken, refused: str | None, *, busy: bool) -> None:
    st.subheader("Build a Space from an idea", anchor=False)
    st.caption("Describe an app in one sentence. The agent plans it, picks the SDK and a model that an inference "
               "provider serves, writes the files, checks them and runs them here, then creates the Space, commits "
               "and follows the build, repairing it from its logs.")
    st.info(SDK_PLAN_NOTE, icon=":material/payments:")
    with st.form("build_form", border=True):
        idea = st.text_input("Your idea", key="build_idea", max_chars=MAX_IDEA_CHARS,
                             placeholder="e.g. a sentiment analysis demo")
        c = st.columns([2, 2, 1, 1.4], vertical_alignment="bottom")
        sdk = c[0].selectbox("SDK", SDK_OPTIONS, format_func=SDK_OPTION_LABELS.get, key="build_sdk")
        name = c[1].text_input("Space name (optional)", key="build_name", placeholder="made from the idea",
                               help="Letters, digits, '-', '_' and '.'. Write owner/name for an organisation.")
        private = c[2].toggle("Private", value=True, key="build_private")
        start = c[3].form_submit_button("Start the build", type="primary", icon=":material/rocket_launch:",
                                        key="build_start", disabled=busy, width="stretch")
    facts = []
    if usable.value:
        facts.append(f":material/cloud_upload: Deploys with {usable.label} `{usable.masked}`")
    else:
        facts.append(":material/folder: **Dry run**: with no Hugging Face token nothing is created; the files are "
                     f"written to `{builds_dir_for(svc.store)}/<run>/`. Add a token on **Providers** to deploy.")
    if refused:
        facts.append(refused)
    if svc.router.is_demo(agent.keys):
        facts.append(":material/science: The code comes from the built-in templates (no LLM key: demo mode).")
    else:
        facts.append(":material/smart_toy: The code is written by an LLM through the router; the report shows "
                     "what it cost.")
    policy = preview_policy(hosted=svc.hosted, allow_preview=svc.hosted_settings.allow_preview)
    if policy:
        icon = ":material/visibility:" if svc.hosted_settings.allow_preview else ":material/visibility_off:"
        facts.append(f"{icon} {policy}")
    st.caption("  \n".join(facts))
    if busy:
        st.caption("A build is running: the next one can start when it ends.")
    if not start:
        return
    try:
        job = start_build(st.session_state, agent, idea, sdk=sdk, private=private, name=name)
    except (ValueError, WorkflowError) as err:
        st.error(str(err), icon="⚠️")
        return
    st.session_state["build_run"] = job.run_id
    st.rerun()


def show_run(agent: BuildAgent, run_id: str, *, hosted: bool) -> None:
    job = job_for(st.session_state, run_id)
    if (job is not None and job.alive) or is_executing(agent, run_id):
        st.fragment(run_every=1)(live_run)(agent, run_id)
        return
    state, report = agent.status(run_id), agent.report(run_id)
    headline(state, report, executing=False)
    if job is not None and job.error:
        st.error(job.error, icon="⚠️")
    run_report(state, report, hosted=hosted)
    files = agent.files(run_id)
    build_actions(agent, state, report, files)
    st.markdown("##### Steps")
    steps(state)
    if files:
        st.markdown(f"##### Files ({len(files)})")
        for path, text in ordered_files(files):
            with st.expander(path, icon=":material/description:"):
                st.code(text, language=file_language(path), line_numbers=True, wrap_lines=True)


def live_run(agent: BuildAgent, run_id: str) -> None:
    """The running build, redrawn every second from the database (a fragment); once the run has ended it
    reruns the whole page, so the report replaces it."""
    job = job_for(st.session_state, run_id)
    if not ((job is not None and job.alive) or is_executing(agent, run_id)):
        st.rerun()
    state = agent.status(run_id)
    headline(state, {}, executing=True)
    steps(state)


def headline(state: RunState, report: dict, *, executing: bool) -> None:
    line = run_headline(state, report, executing=executing)
    {"info": st.info, "success": st.success, "warning": st.warning, "error": st.error}[line.kind](line.text)


def steps(state: RunState) -> None:
    """One `st.status` per step that has started (its time, what it found, its notes, its error), then the
    steps still waiting, in one quiet list."""
    views = step_views(state)
    for view in (v for v in views if v.box_state is not None):
        # Not `with st.status(...)`: leaving the block would mark a running step complete.
        box = st.status(view.label, state=view.box_state, expanded=view.expanded)
        for line in view.lines:
            box.markdown(line)
        if view.status == "running" and not view.lines:
            box.caption("Working…")
        if view.error:
            first, _, rest = view.error.partition("\n")
            box.error(plain(first))
            if rest.strip():
                box.code(rest, language=None)
    waiting = [v.label for v in views if v.box_state is None]
    if waiting:
        st.caption("  \n".join(f":material/radio_button_unchecked: {label}" for label in waiting))


def run_report(state: RunState, report: dict, *, hosted: bool) -> None:
    """What the run made and what it cost: the app's facts, time, cost, repairs, notes; for a dry run, how
    to push the files."""
    if all(s.status == "pending" for s in state.steps):
        return
    st.caption(app_facts(report))
    m = st.columns(4)
    m[0].metric("Total time", seconds_text(report["total_seconds"]))
    m[1].metric("Cost", money(report["cost_usd"]),
                help=f"${report['cost_usd']:.6f}: {report['tokens_in']:,} tokens in, {report['tokens_out']:,} out.")
    m[2].metric("LLM requests", report["requests"])
    m[3].metric("Repairs", report["repairs"], help="Fixes committed after a failed build.")
    notes = run_notes(state, report, hosted=hosted) if state.status != "rolled_back" else []
    if notes:
        st.info(plain(notes[0]) if len(notes) == 1 else "\n".join(f"- {plain(n)}" for n in notes),
                icon=":material/lightbulb:")
    if report.get("dry_run"):
        st.markdown("##### Push it yourself")
        st.caption("Or add a token on **Providers** and press **Resume**: the agent creates the Space and commits "
                   "these files.")
        st.code(push_commands(state, report), language="bash", wrap_lines=True)


def build_actions(agent: BuildAgent, state: RunState, report: dict, files: dict) -> None:
    ss = st.session_state
    run_id = state.id
    resumable = can_resume(state, executing=False)
    undoable = can_roll_back(state, executing=False)
    with st.container(horizontal=True, vertical_alignment="center"):
        if resumable and st.button("Resume", key="build_resume", icon=":material/play_arrow:", type="primary",
                                   disabled=bool(report.get("dry_run")) and agent.spaces is None,
                                   help="Go on from the last finished step; what was done is not done again."):
            try:
                resume_build(ss, agent, run_id)
            except WorkflowError as err:
                st.error(str(err), icon="⚠️")
            else:
                st.rerun()
        if undoable and st.button("Roll back…", key="build_rollback", icon=":material/undo:",
                                  help="Delete the Space this run created."):
            ss["build_confirm"] = run_id
        if files:
            st.download_button("Download the files (.zip)", files_zip(files), file_name=f"build-{run_id}.zip",
                               mime="application/zip", key="build_download", icon=":material/download:")
    slot = st.container()               # always drawn, so the elements below keep their place (and state)
    if ss.get("build_confirm") != run_id or not undoable:
        return
    space_id = state.step("create").outputs["space_id"]
    with slot.container(border=True):
        st.warning(f"Delete **{space_id}** from the Hub? Its files, settings and history go for good. The run "
                   "stays in the list, marked rolled back.", icon="⚠️")
        with st.container(horizontal=True):
            yes = st.button(f"Yes, delete {space_id}", key="build_rollback_confirm", type="primary",
                            icon=":material/delete:")
            no = st.button("Cancel", key="build_rollback_cancel")
    if no:
        ss.pop("build_confirm", None)
        st.rerun()
    if not yes:
        return
    ss.pop("build_confirm", None)
    try:
        with st.spinner(f"Deleting {space_id}…"):
            rolled = agent.rollback(run_id)
    except HubActionError as err:
        slot.error(error_text(err), icon="⚠️")
        return
    except WorkflowError as err:
        slot.error(str(err), icon="⚠️")
        return
    forget(ss, "my_spaces")
    ss["build_toast"] = f"Rolled back: {rolled.outputs.get('rollback', 'done')}"
    st.rerun()

