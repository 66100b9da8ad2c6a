"""The My Spaces tab of the Spaces page: the signed-in user's Spaces, the create form, the manage tabs
(status, files, logs, secrets and variables, duplicate, delete) and this session's recent actions.
It reads from the Hub only once the tab is open."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from core.app.services import Services
from core.app.spaces_page.common import SpacesPageContext, changed, show_error, show_flash, table
from core.app.views.spaces import (
    FOLLOW_SECONDS,
    HARDWARE_OPTIONS,
    LOG_READ_SECONDS,
    MAX_FILE_SLOTS,
    SDK_LABELS,
    WAIT_POLL_SECONDS,
    HubToken,
    files_to_push,
    forget,
    hardware_label,
    remembered,
    result_columns,
    result_rows,
    sdk_choices,
    space_ids,
    stage_label,
    tail_logs,
    wait_progress,
)
from core.hub.errors import HubActionError
from core.hub.spaces import HARDWARE_CHOICES, SpaceManager, streamlit_template_files
from core.llm.keys import session_hash


def refresh_my_spaces() -> None:
    forget(st.session_state, "my_spaces", "secrets", "variables")


def my_spaces_section(ctx: SpacesPageContext) -> None:
    """The My Spaces tab."""
    ss = st.session_state
    hub, spaces, token = ctx.hub, ctx.spaces, ctx.token
    if not hub.has_token:
        st.info("**No Hugging Face token.** Add yours (`hf_…`, with write access) on the **Providers** page to "
                "list, create and manage Spaces. Searching works without one.", icon="🔑")
        return
    try:
        with st.spinner("Loading your Spaces…"):
            owner = spaces.owner()
            rows = remembered(ss, ("my_spaces", token.fingerprint), spaces.list_my_spaces)
    except HubActionError as err:
        show_error(err)
        return
    head = st.columns([5, 1], vertical_alignment="bottom")
    head[0].subheader("Your Spaces", anchor=False)
    head[0].caption(f"Signed in as **{owner}** with the {token.label}. Stages are as of the last refresh.")
    head[1].button("Refresh", key="my_spaces_refresh", icon=":material/refresh:", on_click=refresh_my_spaces,
                   width="stretch")
    show_flash("top")
    if rows:
        table(result_rows(rows, result_columns("my-spaces", hub.endpoint)),
              result_columns("my-spaces", hub.endpoint))
    else:
        st.info("You have no Spaces yet: create one below.")

    with st.expander("Create a Space", expanded=not rows, icon=":material/add_circle:"):
        create_form(spaces)

    ids = space_ids(rows, ss.get("managed_space"))
    if ids:
        manage(ctx, ids, {r["id"]: r for r in rows})
    with st.expander("Recent Space actions in this session", icon=":material/history:"):
        recent_actions(ctx.svc, ctx.who)


def create_form(spaces: SpaceManager) -> None:
    ss = st.session_state
    st.caption("New Spaces are private unless you say otherwise. Gradio and Docker Spaces need a paid plan "
               "(PRO, Team or Enterprise); static ones are free. Docker Spaces start from our Streamlit template.")
    with st.form("create_form", border=False):
        c = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
        name = c[0].text_input("Name", key="create_name", placeholder="my-app",
                               help="Letters, digits, '-', '_' and '.'. Write owner/name to create it in an "
                                    "organisation.")
        sdk = c[1].selectbox("SDK", sdk_choices(), format_func=SDK_LABELS.get, key="create_sdk")
        hardware = c[2].selectbox("Hardware", HARDWARE_OPTIONS, format_func=hardware_label, key="create_hardware")
        private = c[3].toggle("Private", value=True, key="create_private")
        submitted = st.form_submit_button("Create Space", type="primary", key="create_submit")
    if not submitted:
        return
    try:
        with st.spinner("Creating the Space…"):
            created = spaces.create_space(name, sdk=sdk, private=private, hardware=hardware or None)
    except HubActionError as err:
        forget(ss, "my_spaces")          # a template push can fail after the Space was created
        show_error(err)
        return
    ss["managed_space"], ss["manage_force"] = created.id, True
    ss["spaces_reset"] = {"create_name": ""}
    pushed = (f" Our Streamlit template was pushed in one commit ({len(created.template_commit.paths)} files); "
              "the first build starts now." if created.template_commit else "")
    changed("top", f"Created **{created.id}** ({'private' if created.private else 'public'}, "
                   f"{SDK_LABELS[sdk]}).{pushed}")


def manage(ctx: SpacesPageContext, ids: list[str], rows: dict) -> None:
    ss = st.session_state
    st.subheader("Manage a Space", anchor=False)
    if ss.pop("manage_force", False) or ss.get("manage_pick") not in ids:
        ss["manage_pick"] = ss.get("managed_space") if ss.get("managed_space") in ids else ids[0]
    space_id = st.selectbox("Space", ids, key="manage_pick", label_visibility="collapsed")
    ss["managed_space"] = space_id      # a plain key: survives while this tab is hidden
    row = rows.get(space_id, {})
    bits = [stage_label(row.get("stage")), row.get("hardware"), row.get("sdk"),
            "private" if row.get("private") else ("public" if row else None)]
    st.markdown(" &nbsp;·&nbsp; ".join(b for b in bits if b) + f" &nbsp;·&nbsp; [Open on the Hub ↗]"
                f"({ctx.hub.page_url(space_id)})")
    tabs = st.tabs(["Status", "Files", "Logs", "Secrets & variables", "Duplicate", "Delete"], key="manage_tab",
                   on_change="rerun")
    with tabs[0]:
        status_panel(ctx.spaces, space_id, row)
    with tabs[1]:
        files_panel(ctx.spaces, space_id)
    with tabs[2]:
        logs_panel(ctx.spaces, space_id)
    if tabs[3].open:                    # the only panel that reads from the Hub when shown
        with tabs[3]:
            settings_panel(ctx.spaces, ctx.token, space_id)
    with tabs[4]:
        duplicate_panel(ctx.spaces, space_id)
    with tabs[5]:
        delete_panel(ctx.spaces, space_id)


def status_panel(spaces: SpaceManager, space_id: str, row: dict) -> None:
    show_flash("status")
    c = st.columns(4)
    actions = {
        "restart": c[0].button("Restart", key="space_restart", icon=":material/restart_alt:", width="stretch"),
        "rebuild": c[1].button("Factory rebuild", key="space_rebuild", icon=":material/build:", width="stretch",
                               help="Rebuild the image from scratch, without the build cache."),
        "pause": c[2].button("Pause", key="space_pause", icon=":material/pause:", width="stretch",
                             help="Stop the Space (and its billing) until it is restarted."),
        "check": c[3].button("Check stage", key="space_check", icon=":material/sync:", width="stretch"),
    }
    w = st.columns([2, 2, 3], vertical_alignment="bottom")
    timeout = w[0].select_slider("Wait up to", [30, 60, 120, 300, 600], value=120, key="wait_timeout",
                                 format_func=lambda s: f"{s // 60} min" if s >= 60 else f"{s} s")
    wait = w[1].button("Wait for the stage to settle", key="space_wait", icon=":material/hourglass:",
                       width="stretch")
    current = row.get("hardware") or "cpu-basic"
    h = st.columns([2, 2, 3], vertical_alignment="bottom")
    flavor = h[0].selectbox("Hardware", HARDWARE_CHOICES, key="space_hardware",
                            index=HARDWARE_CHOICES.index(current) if current in HARDWARE_CHOICES else 0)
    ask = h[1].button("Request hardware", key="space_hardware_apply", icon=":material/memory:", width="stretch")
    try:
        if actions["restart"] or actions["rebuild"]:
            with st.spinner("Restarting…"):
                state = spaces.restart(space_id, factory=actions["rebuild"])
            changed("status", f"{'Factory rebuild' if actions['rebuild'] else 'Restart'} requested: "
                              f"{space_id} is {stage_label(state.stage)}.")
        if actions["pause"]:
            with st.spinner("Pausing…"):
                state = spaces.pause(space_id)
            changed("status", f"{space_id} is {stage_label(state.stage)}. Restart it to run it again.")
        if actions["check"]:
            with st.spinner("Reading the stage…"):
                state = spaces.runtime(space_id)
            changed("status", f"{space_id} is {stage_label(state.stage)}"
                              + (f" on {state.hardware}." if state.hardware else "."))
        if ask:
            with st.spinner("Requesting hardware…"):
                state = spaces.request_hardware(space_id, flavor)
            changed("status", f"Requested {flavor} for {space_id}; it is {stage_label(state.stage)}.")
        if wait:
            with st.status(f"Waiting for {space_id} to settle…", expanded=True) as box:
                bar = st.progress(0.0, text="Reading the stage…")
                state = spaces.wait_for_stage(
                    space_id, timeout=timeout, poll_interval=WAIT_POLL_SECONDS,
                    on_progress=lambda s, elapsed: bar.progress(*wait_progress(s.stage, elapsed, timeout)))
                box.update(label=f"{space_id} settled: {state.stage}", state="error" if state.is_error else "complete")
            if state.is_error:
                changed("status", f"{space_id} stopped in {stage_label(state.stage)}"
                                  + (f": {state.error}" if state.error else "") + ". Read the build logs in **Logs**.",
                        kind="error")
            else:
                changed("status", f"{space_id} is {stage_label(state.stage)}.")
    except HubActionError as err:
        show_error(err)


def use_template(space_id: str) -> None:
    ss = st.session_state
    files = streamlit_template_files(space_id.split("/")[-1])
    ss["files_count"] = len(files)
    for i, (path, text) in enumerate(files.items()):
        ss[f"file_path_{i}"], ss[f"file_text_{i}"] = path, text
    ss["commit_message"] = "Use the Streamlit template"


def files_panel(spaces: SpaceManager, space_id: str) -> None:
    ss = st.session_state
    show_flash("files")
    top = st.columns([3, 1], vertical_alignment="bottom")
    top[0].caption("Write files here or upload them: everything goes to the Hub in one commit, replacing files "
                   "with the same path.")
    top[1].button("Fill with the Streamlit template", key="files_template", on_click=use_template,
                  args=(space_id,), width="stretch")
    ss.setdefault("files_count", 1)
    ss.setdefault("file_path_0", "app.py")
    count = st.columns([1, 4])[0].number_input("Files to write", min_value=1, max_value=MAX_FILE_SLOTS,
                                               key="files_count")
    slots = []
    for i in range(int(count)):
        c = st.columns([1, 3])
        path = c[0].text_input("Path", key=f"file_path_{i}", placeholder="app.py")
        text = c[1].text_area(f"Content of {path}" if path else "Content", key=f"file_text_{i}", height=160)
        slots.append((path, text))
    uploads = st.file_uploader("Or upload files", accept_multiple_files=True, key="files_upload")
    message = st.text_input("Commit message", key="commit_message", placeholder="Update app.py")
    if not st.button("Push in one commit", type="primary", key="files_push", icon=":material/upload:"):
        return
    try:
        files = files_to_push(slots, [(u.name, u.getvalue()) for u in uploads or []])
        with st.spinner(f"Pushing {len(files)} file{'s' if len(files) != 1 else ''}…"):
            commit = spaces.push_files(space_id, files, message)
    except HubActionError as err:
        show_error(err)
        return
    changed("files", f"Pushed {', '.join(commit.paths)} to **{space_id}** in one commit"
                     + (f" (`{commit.oid[:7]}`)" if commit.oid else "") + f": “{commit.message}”. "
                     "A new build starts: watch it in **Logs**.")


def logs_panel(spaces: SpaceManager, space_id: str) -> None:
    ss = st.session_state
    c = st.columns([2, 1, 1, 2], vertical_alignment="bottom")
    which = c[0].segmented_control("Logs", ["Build", "Run"], default="Build", key="logs_kind", required=True)
    follow = c[1].toggle("Follow", key="logs_follow", help="Keep reading new lines as they come, for a while.")
    seconds = c[2].selectbox("For", FOLLOW_SECONDS, index=1, key="logs_seconds", disabled=not follow,
                             format_func=lambda s: f"{s} s")
    show = c[3].button("Show logs", key="logs_show", type="primary", icon=":material/terminal:")
    what = f"{(which or 'Build').lower()} logs"
    followed = False
    if show:
        try:
            stream = spaces.logs(space_id, build=what.startswith("build"), follow=follow)
            if follow:
                with st.status(f"Following the {what} for {seconds} s…", expanded=True) as box:
                    live = st.empty()
                    tail = tail_logs(stream, seconds=seconds,
                                     on_update=lambda lines: live.code("\n".join(lines[-30:]), language=None))
                    box.update(label=tail.summary(what), state="complete", expanded=False)
                followed = True
            else:
                with st.spinner(f"Reading the {what}…"):
                    tail = tail_logs(stream, seconds=LOG_READ_SECONDS)
            ss["logs_view"] = {"space": space_id, "what": what, "tail": tail}
        except HubActionError as err:
            show_error(err)
    view = ss.get("logs_view")
    if view and view["space"] == space_id:
        if not followed:                # the status box above already says it
            st.caption(view["tail"].summary(view["what"]))
        st.code("\n".join(view["tail"].lines) or "(no lines yet)", language=None,
                height=380 if len(view["tail"].lines) > 18 else "content")
    else:
        st.caption("Pick build or run logs and press **Show logs**. Turn on *Follow* to tail new lines.")


SETTINGS_COLUMNS = {"name": st.column_config.TextColumn("Name"), "value": st.column_config.TextColumn("Value"),
                    "description": st.column_config.TextColumn("Description"),
                    "updated": st.column_config.TextColumn("Updated", width="small")}


def settings_panel(spaces: SpaceManager, token: HubToken, space_id: str) -> None:
    ss = st.session_state
    show_flash("settings")
    left, right = st.columns(2, gap="large")
    try:
        secrets = remembered(ss, ("secrets", space_id, token.fingerprint), lambda: spaces.list_secrets(space_id))
        variables = remembered(ss, ("variables", space_id, token.fingerprint),
                               lambda: spaces.list_variables(space_id))
    except HubActionError as err:
        show_error(err)
        return
    with left:
        st.markdown("#### Secrets")
        st.caption("Write-only: the Hub never gives a value back. A Docker Space reads them as environment "
                   "variables after a restart.")
        if secrets:
            st.dataframe(pd.DataFrame([{"name": s.key, "description": s.description or "",
                                        "updated": (s.updated_at or "")[:10]} for s in secrets]),
                         hide_index=True, width="stretch", column_config=SETTINGS_COLUMNS)
        else:
            st.caption("No secrets yet.")
        with st.form("secret_form", clear_on_submit=True):
            key = st.text_input("Name", key="secret_key", placeholder="OPENROUTER_API_KEY")
            value = st.text_input("Value", type="password", key="secret_value")
            description = st.text_input("Description (optional)", key="secret_description")
            save = st.form_submit_button("Save secret", key="secret_save", type="primary")
        drop_key = None
        if secrets:
            d = st.columns([3, 2], vertical_alignment="bottom")
            pick = d[0].selectbox("Delete a secret", [s.key for s in secrets], key="secret_delete_key")
            if d[1].button("Delete secret", key="secret_delete", width="stretch"):
                drop_key = pick
    with right:
        st.markdown("#### Variables")
        st.caption("Public: anyone who can see the Space can read them, and duplicates copy them.")
        if variables:
            st.dataframe(pd.DataFrame([{"name": v.key, "value": v.value, "description": v.description or ""}
                                       for v in variables]), hide_index=True, width="stretch",
                         column_config=SETTINGS_COLUMNS)
        else:
            st.caption("No variables yet.")
        with st.form("variable_form", clear_on_submit=True):
            var_key = st.text_input("Name", key="variable_key", placeholder="MODE")
            var_value = st.text_input("Value", key="variable_value")
            var_description = st.text_input("Description (optional)", key="variable_description")
            var_save = st.form_submit_button("Save variable", key="variable_save", type="primary")
        drop_var = None
        if variables:
            d = st.columns([3, 2], vertical_alignment="bottom")
            pick_var = d[0].selectbox("Delete a variable", [v.key for v in variables], key="variable_delete_key")
            if d[1].button("Delete variable", key="variable_delete", width="stretch"):
                drop_var = pick_var
    if save:
        ss["spaces_reset"] = {"secret_value": ""}   # the value stays only as long as the call needs it
    try:
        if save:
            spaces.set_secret(space_id, key, value, description=description or None)
            changed("settings", f"Secret **{key.strip()}** saved; its value is not shown again. Restart the Space "
                                "to use it.", "secrets")
        if drop_key:
            spaces.delete_secret(space_id, drop_key)
            changed("settings", f"Secret **{drop_key}** deleted.", "secrets")
        if var_save:
            spaces.set_variable(space_id, var_key, var_value, description=var_description or None)
            changed("settings", f"Variable **{var_key.strip()}** saved.", "variables")
        if drop_var:
            spaces.delete_variable(space_id, drop_var)
            changed("settings", f"Variable **{drop_var}** deleted.", "variables")
    except HubActionError as err:
        show_error(err)


def duplicate_panel(spaces: SpaceManager, space_id: str) -> None:
    ss = st.session_state
    st.caption("Copy a Space into your account: its files and variables come along, its secrets do not.")
    with st.form("duplicate_form", border=False):
        c = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
        source = c[0].text_input("Copy from", key="dup_source", placeholder=space_id,
                                 help="Any Space you can read (e.g. one found in Search); empty: the one above.")
        name = c[1].text_input("New name", key="dup_name", placeholder="<source name>-copy",
                               help="Empty: the source's name with '-copy'. Write owner/name for an organisation.")
        hardware = c[2].selectbox("Hardware", HARDWARE_OPTIONS, format_func=hardware_label, key="dup_hardware")
        private = c[3].toggle("Private", value=True, key="dup_private")
        go = st.form_submit_button("Duplicate", type="primary", key="dup_submit")
    if not go:
        return
    source = source.strip() or space_id
    name = name.strip() or f"{source.split('/')[-1]}-copy"     # what the placeholder promised
    try:
        with st.spinner(f"Duplicating {source}…"):
            created = spaces.duplicate(source, name, private=private, hardware=hardware or None)
    except HubActionError as err:
        show_error(err)
        return
    ss["managed_space"], ss["manage_force"] = created.id, True
    ss["spaces_reset"] = {"dup_name": "", "dup_source": ""}
    changed("top", f"Duplicated {source} into **{created.id}** ({'private' if created.private else 'public'}). "
                   "Its first build starts now.")


def delete_panel(spaces: SpaceManager, space_id: str) -> None:
    ss = st.session_state
    st.warning(f"Deleting **{space_id}** removes its files, settings, secrets and history for good.", icon="⚠️")
    c = st.columns([3, 1], vertical_alignment="bottom")
    typed = c[0].text_input(f"Type {space_id} to confirm", key="delete_confirm", placeholder=space_id)
    if not c[1].button("Delete this Space", key="delete_submit", icon=":material/delete:", width="stretch"):
        return
    try:
        with st.spinner(f"Deleting {space_id}…"):
            spaces.delete(space_id, confirm=typed)
    except HubActionError as err:
        show_error(err)
        return
    ss.pop("managed_space", None)
    ss["manage_force"] = True
    ss["spaces_reset"] = {"delete_confirm": ""}
    forget(ss, "secrets", "variables")
    changed("top", f"Deleted **{space_id}**.")


def recent_actions(svc: Services, who: str) -> None:
    actions = svc.store.space_actions(session=session_hash(who), limit=20)
    if not actions:
        st.caption("Nothing yet: creates, pushes, restarts and deletes made here are listed with their outcome.")
        return
    st.dataframe(pd.DataFrame([{"time": time.strftime("%H:%M:%S", time.localtime(a["ts"])), "space": a["space_id"],
                                "action": a["action"], "outcome": a["outcome"], "detail": a["detail"]}
                               for a in actions]), hide_index=True, width="stretch",
                 column_config={"time": st.column_config.TextColumn("Time", width="small"),
                                "space": st.column_config.TextColumn("Space"),
                                "action": st.column_config.TextColumn("Action", width="small"),
                                "outcome": st.column_config.TextColumn("Outcome", width="small"),
                                "detail": st.column_config.TextColumn("Detail", width="large")})

