"""The Search tab of the Spaces page: the search form, one page of results in a table, paging, and the
details of the selected row. Searches run only when the form is submitted or a page is turned."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.app.spaces_page.common import SpacesPageContext, show_error, table
from core.app.views.spaces import (
    DOC_PRODUCTS,
    INFERENCE_PROVIDERS,
    MODEL_LIBRARIES,
    MODEL_TASKS,
    PAGE_SIZES,
    SEARCH_KINDS,
    SearchRequest,
    card_facts,
    compact_count,
    file_rows,
    page_span,
    provider_rows,
    remembered,
    result_columns,
    result_rows,
    run_search,
    sort_options,
    tag_badges,
)
from core.hub.client import SPACE_SDKS
from core.hub.errors import HubActionError

PLACEHOLDERS = {"Spaces": "e.g. image generation", "Models": "e.g. llama", "Datasets": "e.g. math word problems",
                "Papers": "e.g. attention", "Docs": "e.g. docker spaces secrets"}


def run_and_keep(ctx: SpacesPageContext, request: SearchRequest, *, new: bool) -> None:
    """Search now (with a spinner) and keep the page in the session; failures show in words."""
    ss = st.session_state
    try:
        with st.spinner(f"Searching {request.kind.lower()}…"):
            result = run_search(ctx.hub, request)
    except HubActionError as err:
        show_error(err)
        if new:
            ss.pop("search_result", None)
        return
    ss["search_request"], ss["search_result"] = request, result


def go_to_page(page: int) -> None:
    st.session_state["search_goto"] = page


def search_section(ctx: SpacesPageContext) -> None:
    """The Search tab."""
    ss = st.session_state
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
        run_and_keep(ctx, SearchRequest(kind=kind, query=query, limit=limit, **filters), new=True)
    goto = ss.pop("search_goto", None)
    if goto and "search_result" in ss:
        run_and_keep(ctx, ss["search_request"].at_page(goto), new=False)

    result, request = ss.get("search_result"), ss.get("search_request")
    if result is None:
        st.caption("Pick what to search in, type a few words (or none, for what is trending) and press **Search**.")
        return
    st.markdown(f"**{request.describe().capitalize()}** &nbsp;·&nbsp; {page_span(result)}")
    event = None
    if result.items:
        columns = result_columns(result.kind, ctx.hub.endpoint)
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
        details_panel(ctx, result.kind, result.items[selected[0]])


def details_panel(ctx: SpacesPageContext, kind: str, item: dict) -> None:
    """The selected row in full: a paper or doc page as text, a repo read from the Hub (once per token)."""
    hub, token = ctx.hub, ctx.token
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
                details = remembered(st.session_state, ("details", repo_kind, item["id"], token.fingerprint),
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
