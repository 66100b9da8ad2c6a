"""Spaces: search the Hugging Face Hub, then create, deploy, watch and manage your own Spaces.

Every Hub call uses this session's HF token (entered on Providers), else the shared one from the config;
only its masked form is ever shown. The Hub is `HF_ENDPOINT` (through the services). Nothing calls the
Hub while the page loads: searches run when the form is submitted, My Spaces loads when its tab opens,
and waits and log tails stop at a time limit.

Build from an idea runs the build agent (`core.build_agent`) in a background thread of this session
(`core.build_view`); the tab follows the run from the database every second and never waits for it.

Environment (read once, here): `SPACES_OS_HF_ROUTER_URL`, optional, is the inference router whose
`/models/{id}` prices a model's detail panel shows. Unset, prices come from the public router only when
the endpoint is the public Hub.
"""

import os
import time

import pandas as pd
import streamlit as st

from core.build_agent import MAX_IDEA_CHARS
from core.build_view import (
    SDK_OPTION_LABELS,
    SDK_OPTIONS,
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
from core.hub import SPACE_SDKS
from core.hub_errors import HubActionError
from core.keys import session_hash
from core.spaces import HARDWARE_CHOICES, streamlit_template_files
from core.spaces_view import (
    DOC_PRODUCTS,
    FOLLOW_SECONDS,
    HARDWARE_OPTIONS,
    INFERENCE_PROVIDERS,
    LOG_READ_SECONDS,
    MAX_FILE_SLOTS,
    MODEL_LIBRARIES,
    MODEL_TASKS,
    PAGE_SIZES,
    SDK_LABELS,
    SEARCH_KINDS,
    WAIT_POLL_SECONDS,
    SearchRequest,
    TableColumn,
    card_facts,
    choose_hub_token,
    compact_count,
    error_text,
    file_rows,
    files_to_push,
    forget,
    hardware_label,
    page_span,
    provider_rows,
    remembered,
    result_columns,
    result_rows,
    run_search,
    sdk_choices,
    session_clients,
    sort_options,
    space_ids,
    stage_label,
    tag_badges,
    tail_logs,
    tool_rows,
    wait_progress,
)
from core.tools import build_hub_tools
from core.widgets import identity, require_services, session_keys
from core.workflow import WorkflowError

ROUTER_URL = os.environ.get("SPACES_OS_HF_ROUTER_URL") or None

svc = require_services()
ss = st.session_state
token = choose_hub_token(svc.config.providers, session_keys(), hosted=svc.hosted)
who = identity(svc)      # the same session identity as Chat and the audit log (the visitor, when hosted)
hub, spaces = session_clients(ss, endpoint=svc.hub_endpoint, token=token, router_url=ROUTER_URL, store=svc.store,
                              session=who)
# Widget values the previous run asked to clear; assigning (not popping) also clears the browser's copy.
for widget, empty in ss.pop("spaces_reset", {}).items():
    ss[widget] = empty

st.title("🚀 Spaces")
st.caption("Search the Hugging Face Hub, then create, deploy, watch and manage your own Spaces.")
badge = {"session": "green", "shared": "blue", "none": "orange"}[token.source]
st.markdown(f":material/hub: Hub `{hub.endpoint}` &nbsp; :material/key: :{badge}-badge[{token.label}]"
            + (f" `{token.masked}`" if token.value else ""))


# --------------------------------------------------------------------------- shared bits


def show_error(err: HubActionError) -> None:
    st.error(error_text(err), icon="⚠️")


def column_config(columns: list[TableColumn]) -> dict:
    config = {}
    for c in columns:
        if c.kind == "link":
            config[c.key] = st.column_config.LinkColumn(c.label, width=c.width, help=c.help, display_text=c.display)
        elif c.kind == "number":
            config[c.key] = st.column_config.NumberColumn(c.label, width=c.width, help=c.help, format="compact")
        else:
            config[c.key] = st.column_config.TextColumn(c.label, width=c.width, help=c.help)
    return config


def table(rows: list[dict], columns: list[TableColumn], **kwargs):
    frame = pd.DataFrame(rows, columns=[c.key for c in columns])
    return st.dataframe(frame, column_config=column_config(columns), hide_index=True, width="stretch", **kwargs)


def changed(where: str, text: str, *reads: str, kind: str = "success") -> None:
    """After a change on the Hub: drop the stale reads, keep a message for `where`, and rerun."""
    forget(ss, "my_spaces", *reads)
    ss["spaces_flash"] = (where, kind, text)
    st.rerun()


def show_flash(where: str) -> None:
    flash = ss.get("spaces_flash")
    if flash and flash[0] == where:
        ss.pop("spaces_flash")
        {"success": st.success, "warning": st.warning, "error": st.error}[flash[1]](flash[2])


# --------------------------------------------------------------------------- search

PLACEHOLDERS = {"Spaces": "e.g. image generation", "Models": "e.g. llama", "Datasets": "e.g. math word problems",
                "Papers": "e.g. attention", "Docs": "e.g. docker spaces secrets"}


def run_and_keep(request: SearchRequest, *, new: bool) -> None:
    """Search now (with a spinner) and keep the page in the session; failures show in words."""
    try:
        with st.spinner(f"Searching {request.kind.lower()}…"):
            result = run_search(hub, request)
    except HubActionError as err:
        show_error(err)
        if new:
            ss.pop("search_result", None)
        return
    ss["search_request"], ss["search_result"] = request, result


def go_to_page(page: int) -> None:
    ss["search_goto"] = page


def search_section() -> None:
    kind = st.segmented_control("Search in", SEARCH_KINDS, default="Spaces", key="search_kind", required=True)
    kind = kind or "Spaces"
    with st.form("search_form"):
        top = st.columns([5, 1])
        query = top[0].text_input("Search for", key="search_query", placeholder=PLACEHOLDERS[kind])
        limit = top[1].selectbox("Per page", PAGE_SIZES, index=1, key="search_rows")
        filters: dict = {}
        if kind == "Spaces":
            c = st.columns(3, vertical_alignment="bottom")
            filters["sdk"] = c[0].selectbox("SDK", ["", *SPACE_SDKS], format_func=lambda v: v or "any",
                                            key="search_sdk")
            filters["sort"] = c[1].selectbox("Sort by", sort_options(kind), key="search_sort_spaces")
            filters["semantic"] = c[2].toggle("Search by meaning", key="search_semantic",
                                              help="Semantic search over Space descriptions; needs words and "
                                                   "ignores the sort.")
        elif kind == "Models":
            c = st.columns(4)
            filters["task"] = c[0].selectbox("Task", MODEL_TASKS, format_func=lambda v: v or "any",
                                             key="search_task")
            filters["library"] = c[1].selectbox("Library", MODEL_LIBRARIES, format_func=lambda v: v or "any",
                                                key="search_library")
            filters["provider"] = c[2].selectbox(
                "Inference provider", INFERENCE_PROVIDERS, key="search_provider",
                format_func=lambda v: {"": "any or none", "all": "served by any provider"}.get(v, v))
            filters["sort"] = c[3].selectbox("Sort by", sort_options(kind), key="search_sort_models")
        elif kind == "Datasets":
            filters["sort"] = st.columns(4)[0].selectbox("Sort by", sort_options(kind), key="search_sort_datasets")
        elif kind == "Docs":
            filters["product"] = st.columns(4)[0].selectbox("Product", DOC_PRODUCTS, key="search_product",
                                                            format_func=lambda v: v or "all products")
        else:
            st.caption("Papers are matched on their title and abstract.")
        submitted = st.form_submit_button("Search", type="primary", icon=":material/search:", key="search_submit")

    if submitted:
        ss["search_seq"] = ss.get("search_seq", 0) + 1     # a new table, so no stale row stays selected
        run_and_keep(SearchRequest(kind=kind, query=query, limit=limit, **filters), new=True)
    goto = ss.pop("search_goto", None)
    if goto and "search_result" in ss:
        run_and_keep(ss["search_request"].at_page(goto), new=False)

    result, request = ss.get("search_result"), ss.get("search_request")
    if result is None:
        st.caption("Pick what to search in, type a few words (or none, for what is trending) and press **Search**.")
        return
    st.markdown(f"**{request.describe().capitalize()}** &nbsp;·&nbsp; {page_span(result)}")
    event = None
    if result.items:
        columns = result_columns(result.kind, hub.endpoint)
        event = table(result_rows(result.items, columns), columns, on_select="rerun", selection_mode="single-row",
                      key=f"search_table_{ss.get('search_seq', 0)}_{result.page}")
    else:
        st.info("Nothing found. Try fewer words or other filters.")
    selected = event.selection.rows if event is not None else []
    with st.container(horizontal=True, vertical_alignment="center"):
        st.button("← Previous", key="search_prev", disabled=result.page <= 1, on_click=go_to_page,
                  args=(result.page - 1,))
        st.button("Next →", key="search_next", disabled=not result.has_next, on_click=go_to_page,
                  args=(result.page + 1,))
        if result.items and not selected:
            st.caption("Select a row to see its details.")
    if selected and selected[0] < len(result.items):
        details_panel(result.kind, result.items[selected[0]])


def details_panel(kind: str, item: dict) -> None:
    with st.container(border=True):
        if kind == "papers":
            st.subheader(item.get("title") or item["id"], anchor=False)
            st.caption(" · ".join(x for x in (item.get("authors"), item.get("published") and
                                              f"published {item['published'][:10]}",
                                              f"{item.get('upvotes') or 0} upvotes") if x))
            st.markdown(item.get("summary") or "No abstract.")
            st.markdown(f"[Read on Hugging Face Papers ↗]({item['url']})")
            return
        if kind == "docs":
            st.subheader(item.get("title") or "Documentation", anchor=False)
            st.caption(" · ".join(x for x in (item.get("product"), item.get("section")) if x))
            st.markdown(item.get("text") or "")
            st.markdown(f"[Open the page ↗]({item['url']})")
            return
        repo_kind = {"models": "model", "datasets": "dataset"}.get(kind, "space")
        fetch = {"model": hub.model_details, "dataset": hub.dataset_details, "space": hub.space_details}[repo_kind]
        try:
            with st.spinner(f"Reading {item['id']}…"):
                details = remembered(ss, ("details", repo_kind, item["id"], token.fingerprint),
                                     lambda: fetch(item["id"]))
        except HubActionError as err:
            show_error(err)
            return
        head = st.columns([3, 1, 1], vertical_alignment="center")
        head[0].subheader(details.id)
        head[0].markdown(f"[Open on the Hub ↗]({details.url})")
        if getattr(details, "downloads", None) is not None:
            head[1].metric("Downloads", compact_count(details.downloads), help=f"{details.downloads:,}")
        head[2].metric("Likes", compact_count(details.likes or 0), help=f"{details.likes or 0:,}")
        facts = card_facts(details)
        if facts:
            st.markdown(" &nbsp;·&nbsp; ".join(f"**{label}** {value}" for label, value in facts))
        if details.tags:
            st.markdown(tag_badges(details.tags))
        if repo_kind == "model":
            st.markdown("##### Inference providers")
            if details.providers:
                st.dataframe(pd.DataFrame(provider_rows(details.providers)), hide_index=True, width="stretch",
                             column_config={
                                 "provider": st.column_config.TextColumn("Provider", width="small"),
                                 "status": st.column_config.TextColumn("Status", width="small"),
                                 "model at provider": st.column_config.TextColumn("Model at provider",
                                                                                  width="large"),
                                 "input $/1M": st.column_config.NumberColumn("Input $/1M", format="$%.2f",
                                                                             width="small"),
                                 "output $/1M": st.column_config.NumberColumn("Output $/1M", format="$%.2f",
                                                                              width="small"),
                                 "context": st.column_config.NumberColumn("Context", format="compact",
                                                                          width="small"),
                                 "tools": st.column_config.CheckboxColumn("Tools", width="small")})
                st.caption(details.prices_note or "Prices in USD per 1M tokens, from the inference router.")
            else:
                st.caption("No inference provider serves this model.")
        left, right = st.columns(2)
        with left:
            st.markdown(f"##### Files ({len(details.files)})")
            if details.files:
                files = file_rows(details.files)
                st.dataframe(pd.DataFrame(files), hide_index=True, width="stretch",
                             height=320 if len(files) > 8 else "auto",
                             column_config={"file": st.column_config.TextColumn("File"),
                                            "size": st.column_config.TextColumn("Size", width="small")})
        with right:
            st.markdown("##### Card metadata")
            if details.card:
                st.json(details.card, expanded=1)
            else:
                st.caption("The card has no metadata.")


# --------------------------------------------------------------------------- my Spaces


def refresh_my_spaces() -> None:
    forget(ss, "my_spaces", "secrets", "variables")


def my_spaces_section() -> None:
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
        create_form()

    ids = space_ids(rows, ss.get("managed_space"))
    if ids:
        manage(ids, {r["id"]: r for r in rows})
    with st.expander("Recent Space actions in this session", icon=":material/history:"):
        recent_actions()


def create_form() -> None:
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


def manage(ids: list[str], rows: dict) -> None:
    st.subheader("Manage a Space", anchor=False)
    if ss.pop("manage_force", False) or ss.get("manage_pick") not in ids:
        ss["manage_pick"] = ss.get("managed_space") if ss.get("managed_space") in ids else ids[0]
    space_id = st.selectbox("Space", ids, key="manage_pick", label_visibility="collapsed")
    ss["managed_space"] = space_id      # a plain key: survives while this tab is hidden
    row = rows.get(space_id, {})
    bits = [stage_label(row.get("stage")), row.get("hardware"), row.get("sdk"),
            "private" if row.get("private") else ("public" if row else None)]
    st.markdown(" &nbsp;·&nbsp; ".join(b for b in bits if b) + f" &nbsp;·&nbsp; [Open on the Hub ↗]"
                f"({hub.page_url(space_id)})")
    tabs = st.tabs(["Status", "Files", "Logs", "Secrets & variables", "Duplicate", "Delete"], key="manage_tab",
                   on_change="rerun")
    with tabs[0]:
        status_panel(space_id, row)
    with tabs[1]:
        files_panel(space_id)
    with tabs[2]:
        logs_panel(space_id)
    if tabs[3].open:                    # the only panel that reads from the Hub when shown
        with tabs[3]:
            settings_panel(space_id)
    with tabs[4]:
        duplicate_panel(space_id)
    with tabs[5]:
        delete_panel(space_id)


def status_panel(space_id: str, row: dict) -> None:
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
    files = streamlit_template_files(space_id.split("/")[-1])
    ss["files_count"] = len(files)
    for i, (path, text) in enumerate(files.items()):
        ss[f"file_path_{i}"], ss[f"file_text_{i}"] = path, text
    ss["commit_message"] = "Use the Streamlit template"


def files_panel(space_id: str) -> None:
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


def logs_panel(space_id: str) -> None:
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


def settings_panel(space_id: str) -> None:
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


def duplicate_panel(space_id: str) -> None:
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


def delete_panel(space_id: str) -> None:
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


def recent_actions() -> None:
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


# --------------------------------------------------------------------------- MCP


def mcp_section() -> None:
    st.subheader("Hugging Face MCP server", anchor=False)
    if svc.config.mcp_url:
        st.markdown(f"**URL** `{svc.config.mcp_url}`")
        st.caption("Agents connect over streamable HTTP with `Authorization: Bearer <HF token>`. Set under "
                   "`huggingface.mcp_url` in the config.")
    else:
        st.info("Not configured. Add `mcp_url: https://huggingface.co/mcp` under `huggingface:` in "
                "`agentic-config.yaml` to use the Hub's MCP server.", icon="🔌")
    registry = build_hub_tools(hub, spaces)
    st.subheader(f"Hub tools ({len(registry)})", anchor=False)
    st.caption("One registry, shared by the Chat agent and a future MCP server: name, description, JSON-schema "
               "parameters and handler. Parameters marked * are required; tools that change things ask first.")
    rows = [{"Tool": r["tool"], "What it does": r["what it does"], "Parameters": r["parameters"],
             "Changes things": "yes" if r["changes things"] else ""} for r in tool_rows(registry.list())]
    st.table(pd.DataFrame(rows), hide_index=True, border="horizontal")
    name = st.selectbox("Show the schema of", registry.names(), key="mcp_tool")
    st.json(registry.get(name).mcp_schema(), expanded=2)


# --------------------------------------------------------------------------- build from an idea


def build_agent():
    """This session's build agent (its keys in memory, in the session state), and the token it deploys with."""
    usable, refused = build_token(token, hosted=svc.hosted)
    agent = session_agent(ss, router=svc.router, store=svc.store, endpoint=svc.hub_endpoint, token=usable,
                          keys=session_keys(), session=who, space_session=who,
                          hosted=svc.hosted, allow_preview=svc.hosted_settings.allow_preview, router_url=ROUTER_URL)
    return agent, usable, refused


def build_section() -> None:
    agent, usable, refused = build_agent()
    if toast := ss.pop("build_toast", None):
        st.toast(toast, icon=":material/undo:")
    build_form(agent, usable, refused, busy=active_job(ss) is not None)
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
    show_run(agent, ss["build_run"])
    with st.expander(f"Builds in this session ({len(runs)})", icon=":material/history:"):
        executing = [rid for rid in ids if is_executing(agent, rid)]
        st.dataframe(pd.DataFrame(run_rows(runs, executing)), hide_index=True, width="stretch",
                     column_config={"started": st.column_config.TextColumn("Started", width="small"),
                                    "idea": st.column_config.TextColumn("Idea", width="large"),
                                    "status": st.column_config.TextColumn("Status", width="small"),
                                    "space": st.column_config.TextColumn("Space"),
                                    "run": st.column_config.TextColumn("Run", width="small")})


def build_form(agent, usable, refused: str | None, *, busy: bool) -> None:
    st.subheader("Build a Space from an idea", anchor=False)
    st.caption("Describe an app in one sentence. The agent plans it, picks the SDK and a model that an inference "
               "provider serves, writes the files, checks them and runs them here, then creates the Space, commits "
               "and follows the build, repairing it from its logs.")
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
        facts.append(f":material/cloud_upload: Deploys with {usable.label} `{usable.masked}`.")
    else:
        facts.append(":material/folder: **Dry run**: with no Hugging Face token nothing is created; the files are "
                     f"written to `{builds_dir_for(svc.store)}/<run>/`. Add a token on **Providers** to deploy.")
    if refused:
        facts.append(refused)
    if svc.router.is_demo(session_keys()):
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
        job = start_build(ss, agent, idea, sdk=sdk, private=private, name=name)
    except (ValueError, WorkflowError) as err:
        st.error(str(err), icon="⚠️")
        return
    ss["build_run"] = job.run_id
    st.rerun()


def show_run(agent, run_id: str) -> None:
    job = job_for(ss, run_id)
    if (job is not None and job.alive) or is_executing(agent, run_id):
        st.fragment(run_every=1)(live_run)(agent, run_id)
        return
    state, report = agent.status(run_id), agent.report(run_id)
    headline(state, report, executing=False)
    if job is not None and job.error:
        st.error(job.error, icon="⚠️")
    run_report(state, report)
    files = agent.files(run_id)
    build_actions(agent, state, report, files)
    st.markdown("##### Steps")
    steps(state)
    if files:
        st.markdown(f"##### Files ({len(files)})")
        for path, text in ordered_files(files):
            with st.expander(path, icon=":material/description:"):
                st.code(text, language=file_language(path), line_numbers=True, wrap_lines=True)


def live_run(agent, run_id: str) -> None:
    """The running build, redrawn every second from the database (a fragment); once the run has ended it
    reruns the whole page, so the report replaces it."""
    job = job_for(ss, run_id)
    if not ((job is not None and job.alive) or is_executing(agent, run_id)):
        st.rerun()
    state = agent.status(run_id)
    headline(state, {}, executing=True)
    steps(state)


def headline(state, report: dict, *, executing: bool) -> None:
    line = run_headline(state, report, executing=executing)
    {"info": st.info, "success": st.success, "warning": st.warning, "error": st.error}[line.kind](line.text)


def steps(state) -> None:
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


def run_report(state, report: dict) -> None:
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
    notes = run_notes(state, report, hosted=svc.hosted) if state.status != "rolled_back" else []
    if notes:
        st.info(plain(notes[0]) if len(notes) == 1 else "\n".join(f"- {plain(n)}" for n in notes),
                icon=":material/lightbulb:")
    if report.get("dry_run"):
        st.markdown("##### Push it yourself")
        st.caption("Or add a token on **Providers** and press **Resume**: the agent creates the Space and commits "
                   "these files.")
        st.code(push_commands(state, report), language="bash", wrap_lines=True)


def build_actions(agent, state, report: dict, files: dict) -> None:
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


search_tab, mine_tab, mcp_tab, build_tab = st.tabs(["Search", "My Spaces", "MCP", "Build from an idea"],
                                                   key="spaces_tab", on_change="rerun")
with search_tab:
    search_section()
if mine_tab.open:                       # Hub reads happen only once this tab is opened
    with mine_tab:
        my_spaces_section()
with mcp_tab:
    mcp_section()
if build_tab.open:                      # its live view ticks every second: only while it is shown
    with build_tab:
        build_section()
