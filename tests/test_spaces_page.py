"""The Spaces page against the fake Hub under AppTest: what the user sees and what the Hub received
(paths, query parameters, payloads, committed files, the Authorization header), every error in words.
The page's plain logic (`core/app/views/spaces.py`) is tested first, without Streamlit."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.views.spaces import (
    HubToken,
    SearchRequest,
    choose_hub_token,
    compact_count,
    error_text,
    files_to_push,
    result_columns,
    result_rows,
    session_clients,
    tail_logs,
)
from core.hub.client import SearchCache, SearchPage
from core.hub.errors import HubActionError, HubErrorKind
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeModel, FakeSpace

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
PAGE = "pages/spaces.py"
TOKEN = SENTINEL_HF                                  # the session's own token
SHARED = "hf_SHAREDtoken00000000-wxyz"        # the config's shared token (HF_TOKEN)
SECRET_VALUE = "sk-or-v1-secretvalue0123456789abcdef"


# --------------------------------------------------------------------------- core/app/views/spaces.py


class _Provider:
    def __init__(self, name: str, kind: str, api_key: str | None = None):
        self.name, self.kind, self.api_key = name, kind, api_key


def test_session_token_wins_over_shared_and_is_never_in_repr():
    providers = [_Provider("openrouter", "openrouter", "sk-or-x"), _Provider("hf", "huggingface", SHARED)]
    mine = choose_hub_token(providers, {"hf": TOKEN, "openrouter": "sk-or-other"})
    assert (mine.value, mine.source, mine.label) == (TOKEN, "session", "your token")
    assert TOKEN not in repr(mine) and TOKEN not in mine.describe() and mine.describe().endswith("cdef)")
    shared = choose_hub_token(providers, {"openrouter": "sk-or-other"})
    assert (shared.value, shared.label) == (SHARED, "shared token")
    none = choose_hub_token([_Provider("hf", "huggingface")], {})
    assert (none.value, none.describe()) == (None, "no token: search only")
    assert choose_hub_token([], {"huggingface": TOKEN}).source == "none"


def test_session_clients_are_kept_per_token_with_one_search_cache():
    state: dict = {}
    kwargs = dict(endpoint="http://hub.test", router_url=None, store=None, session="s1")
    hub_a, spaces_a = session_clients(state, token=HubToken(TOKEN, "session"), **kwargs)
    assert session_clients(state, token=HubToken(TOKEN, "session"), **kwargs) == (hub_a, spaces_a)
    hub_b, _ = session_clients(state, token=HubToken(SHARED, "shared"), **kwargs)
    assert hub_b is not hub_a and hub_b.token == SHARED
    assert isinstance(state["spaces_search_cache"], SearchCache) and hub_b.cache is hub_a.cache
    assert TOKEN not in repr(state)


def test_files_to_push_merges_editor_and_uploads_and_refuses_ambiguity():
    files = files_to_push([("app.py", "print(1)\n"), ("", ""), (" src/util.py ", "")], [("logo.png", b"\x89PNG")])
    assert files == {"app.py": "print(1)\n", "src/util.py": "", "logo.png": b"\x89PNG"}
    with pytest.raises(HubActionError, match="has content but no path"):
        files_to_push([("", "orphan text")])
    with pytest.raises(HubActionError, match="listed twice"):
        files_to_push([("app.py", "a")], [("app.py", b"b")])


def test_tail_logs_stops_at_the_time_limit_on_a_silent_stream():
    def stream():
        yield "first line\n"
        time.sleep(5)                     # a followed stream that goes quiet
        yield "too late\n"

    started = time.monotonic()
    tail = tail_logs(stream(), seconds=0.6)
    assert time.monotonic() - started < 2
    assert tail.lines == ["first line"] and not tail.ended
    assert "stopped after" in tail.summary("run logs")


def test_tail_logs_keeps_the_last_lines_and_raises_hub_errors():
    tail = tail_logs(iter([f"line {i}\n" for i in range(30)]), seconds=5, max_lines=10)
    assert tail.ended and tail.total == 30 and tail.lines[0] == "line 20" and tail.truncated

    def refused():
        raise HubActionError(HubErrorKind.FORBIDDEN, "no rights")
        yield ""  # pragma: no cover

    with pytest.raises(HubActionError, match="no rights"):
        tail_logs(refused(), seconds=5)


def test_result_tables_link_to_the_hub_and_shorten_dates():
    columns = result_columns("models", "http://hub.test")
    link = columns[0]
    assert link.kind == "link" and link.key == "url"

    assert re.match(link.display, "http://hub.test/meta-llama/Llama-3").group(1) == "meta-llama/Llama-3"
    rows = result_rows([{"id": "a/b", "url": "http://hub.test/a/b", "updated": "2026-09-01T12:00:00.000Z",
                         "downloads": 5}], columns)
    assert rows == [{"url": "http://hub.test/a/b", "task": None, "library": None, "downloads": 5, "likes": None,
                     "updated": "2026-09-01"}]
    space = result_rows([{"url": "u", "stage": "BUILD_ERROR", "private": True}],
                        result_columns("my-spaces", "http://hub.test"))[0]
    assert space["stage"] == "🔴 BUILD_ERROR" and space["visibility"] == "private"


def test_compact_counts_fit_a_metric():
    assert [compact_count(v) for v in (None, 999, 12_345, 9_000_000, 2_500_000_000)] == \
        ["—", "999", "12.3K", "9M", "2.5B"]


def test_error_text_says_when_to_retry_a_rate_limit():
    err = HubActionError(HubErrorKind.RATE_LIMITED, "The Hub is rate limiting these requests.", "Wait.",
                         retry_after=7)
    assert "Retry in 7 s." in error_text(err) and "Wait." in error_text(err)


def test_search_request_describes_itself_and_pages():
    request = SearchRequest(kind="Models", query="llama", task="text-generation", sort="likes")
    assert request.describe() == 'models matching "llama" · task text-generation · sorted by likes'
    assert request.at_page(3).page == 3 and request.at_page(0).page == 1
    assert SearchPage("models", 1, 20, [], False).items == []


# --------------------------------------------------------------------------- the page under AppTest


@pytest.fixture(scope="module")
def server():
    with FakeHub(page_size=15) as hub:      # small pages: paging follows the Hub's Link header
        yield hub


@pytest.fixture
def hub(server: FakeHub, monkeypatch, tmp_path) -> FakeHub:
    server.reset()
    server.add_token(TOKEN, user="alice")
    server.add_token(SHARED, user="alice")
    server.add_space(FakeSpace("alice/existing", sdk="docker", private=True, title="Existing",
                               files={"README.md": b"---\nsdk: docker\n---\n"}))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("SPACES_OS_HF_ROUTER_URL", server.router_url)
    monkeypatch.chdir(tmp_path)                 # no agentic-config.* from the checkout
    st.cache_resource.clear()
    yield server
    st.cache_resource.clear()


def open_page(*, token: str | None = TOKEN, tab: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    if token:
        at.session_state["keys"] = {"huggingface": token}
    if tab:
        at.session_state["spaces_tab"] = tab
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "error", "success", "warning", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def errors(at: AppTest) -> str:
    return "\n".join(e.value for e in at.error)


def everything(at: AppTest, *, state: bool = False) -> str:
    """Every element's proto (and with `state`, the session state) as text: for "this value is nowhere"."""
    out = []

    def walk(node):
        if getattr(node, "proto", None) is not None:
            out.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out) + (repr(at.session_state.to_dict()) if state else "")


def search(at: AppTest, kind: str, query: str = "", **widgets) -> AppTest:
    at.session_state["search_kind"] = kind
    at.run()
    at.text_input(key="search_query").input(query)
    for key, value in widgets.items():
        widget = at.get("selectbox") + at.get("toggle")
        match = next(w for w in widget if w.key == key)
        match.set_value(value)
    at.button(key="search_submit").click().run()
    assert not at.exception, at.exception
    return at


def results(at: AppTest):
    table = next(d for d in at.dataframe if (d.key or "").startswith("search_table"))
    return table


def select_row(at: AppTest, row: int) -> AppTest:
    at.session_state[results(at).key] = {"selection": {"rows": [row], "columns": []}}
    return at.run()


# ----- search


def test_space_search_shows_linked_rows_and_sends_the_session_token(hub):
    at = search(open_page(), "Spaces", "hello", search_sdk="gradio")
    sent = hub.last("GET", "/api/spaces")
    assert sent.param("search") == "hello" and sent.param("filter") == "gradio"
    assert sent.authorization == f"Bearer {TOKEN}"
    frame = results(at).value
    assert list(frame["url"]) == [f"{hub.url}/spaces/gradio/hello-world"]
    assert list(frame["title"]) == ["Hello World"]
    config = results(at).proto.columns
    assert '"url"' in config and "link" in config.lower()          # the Space column is a link column
    body = texts(at)
    assert "your token" in body and "hf_…cdef" in body and TOKEN not in everything(at)


def test_shared_token_is_used_when_the_session_has_none(hub, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SHARED)
    at = search(open_page(token=None), "Models", "llama")
    assert "shared token" in texts(at) and SHARED not in everything(at)
    assert hub.last("GET", "/api/models").authorization == f"Bearer {SHARED}"


def test_without_any_token_search_works_and_my_spaces_asks_for_one(hub):
    at = search(open_page(token=None), "Datasets", "gsm8k")
    assert hub.last("GET", "/api/datasets").authorization is None
    assert list(results(at).value["url"]) == [f"{hub.url}/datasets/openai/gsm8k"]
    assert "no token: search only" in texts(at)
    at.session_state["spaces_tab"] = "My Spaces"
    at.run()
    assert "No Hugging Face token" in texts(at)
    assert not hub.requests_to("GET", "/api/whoami-v2")


def test_model_filters_and_paging_send_the_right_limit_and_cursor(hub):
    for i in range(25):
        hub.add_model(FakeModel(f"acme/tiny-{i:02d}", downloads=1000 - i, library="transformers"))
    at = open_page()
    hub.clear_requests()
    at = search(at, "Models", "acme", search_task="text-generation", search_library="transformers",
                search_rows=10)
    first = hub.requests_to("GET", "/api/models")
    assert len(first) == 1 and first[0].param("limit") == "11"           # one page plus one row: is there more?
    assert (first[0].param("pipeline_tag"), first[0].param("filter"), first[0].param("sort")) == \
        ("text-generation", "transformers", "downloads")
    assert list(results(at).value["url"])[0] == f"{hub.url}/acme/tiny-00" and len(results(at).value) == 10
    assert "Page 1 · results 1–10" in texts(at)

    hub.clear_requests()
    at.button(key="search_next").click().run()
    pages = hub.requests_to("GET", "/api/models")
    assert [r.param("limit") for r in pages] == ["21", "21"]            # 21 rows: two pages plus one
    assert pages[0].param("cursor") is None and pages[1].param("cursor") == "15"   # the Link header followed
    assert list(results(at).value["url"]) == [f"{hub.url}/acme/tiny-{i:02d}" for i in range(10, 20)]
    assert "Page 2 · results 11–20" in texts(at)

    hub.clear_requests()
    at.button(key="search_prev").click().run()
    assert not hub.requests_to("GET", "/api/models")                    # page 1 again: from the session cache
    assert "Page 1 · results 1–10" in texts(at) and at.button(key="search_prev").disabled


def test_model_detail_panel_shows_card_files_and_provider_prices(hub):
    at = select_row(search(open_page(), "Models", "llama"), 0)
    info = hub.last("GET", "/api/models/meta-llama/Llama-3.1-8B-Instruct")
    assert "inferenceProviderMapping" in info.query["expand"]
    assert hub.last("GET", "/router/v1/models/meta-llama/Llama-3.1-8B-Instruct").authorization is None
    body = texts(at)
    assert "meta-llama/Llama-3.1-8B-Instruct" in body and "llama3.1" in body and "Inference providers" in body
    assert any(m.label == "Downloads" and m.value == "9M" for m in at.metric)
    providers = next(d.value for d in at.dataframe if "provider" in d.value.columns)
    assert list(providers["provider"]) == ["groq", "together"]         # cheapest first
    assert list(providers["input $/1M"]) == [0.05, 0.18]
    files = next(d.value for d in at.dataframe if "file" in d.value.columns)
    assert "config.json" in list(files["file"])


def test_semantic_space_search_asks_by_meaning(hub):
    at = search(open_page(), "Spaces", "generate images", search_semantic=True)
    sent = hub.last("GET", "/api/spaces/semantic-search")
    assert sent.param("q") == "generate images"
    assert list(results(at).value["url"]) == [f"{hub.url}/spaces/black-forest-labs/FLUX.1-schnell"]
    assert "About" in results(at).proto.columns


def test_papers_and_docs_searches(hub):
    at = search(open_page(), "Papers", "attention")
    assert hub.last("GET", "/api/papers/search").param("q") == "attention"
    assert list(results(at).value["title"]) == ["Attention Is All You Need"]
    at = select_row(at, 0)
    assert "Read on Hugging Face Papers" in texts(at)
    at = search(at, "Docs", "secrets", search_product="hub")
    sent = hub.last("GET", "/api/docs/search")
    assert (sent.param("q"), sent.param("product")) == ("secrets", "hub")
    assert list(results(at).value["title"]) == ["Docker Spaces"]


def test_rate_limited_search_says_when_to_retry(hub):
    hub.fail("/api/models", 429, retry_after=7, times=1)
    at = search(open_page(), "Models", "llama")
    assert "rate limiting" in errors(at) and "7 s" in errors(at)
    assert not [d for d in at.dataframe if (d.key or "").startswith("search_table")]


def test_docs_search_without_words_is_refused_before_sending(hub):
    at = open_page()
    hub.clear_requests()
    at = search(at, "Docs", "  ")
    assert "Type something to search for" in errors(at)
    assert not hub.requests_to("GET", "/api/docs/search")


# ----- my Spaces


def create(at: AppTest, name: str, sdk: str = "static", **extra) -> AppTest:
    at.text_input(key="create_name").input(name)
    at.selectbox(key="create_sdk").set_value(sdk)
    for key, value in extra.items():
        next(w for w in at.get("selectbox") + at.get("toggle") if w.key == key).set_value(value)
    at.button(key="create_submit").click().run()
    assert not at.exception, at.exception
    return at


def test_my_spaces_lists_stage_and_hardware_on_opening_the_tab(hub):
    at = open_page()
    assert not hub.requests_to("GET", "/api/whoami-v2")                  # nothing read until the tab opens
    at.session_state["spaces_tab"] = "My Spaces"
    at.run()
    listing = hub.last("GET", "/api/spaces")
    assert listing.param("author") == "alice" and listing.authorization == f"Bearer {TOKEN}"
    frame = at.dataframe[0].value
    assert list(frame["url"]) == [f"{hub.url}/spaces/alice/existing"]
    assert list(frame["stage"]) == ["🟢 RUNNING"] and list(frame["visibility"]) == ["private"]
    assert "Signed in as **alice**" in texts(at)
    at.run()
    assert len(hub.requests_to("GET", "/api/whoami-v2")) == 1          # reruns reuse what was read


def test_create_is_private_by_default_and_lists_the_new_space(hub):
    at = create(open_page(tab="My Spaces"), "demo-site")
    sent = hub.last("POST", "/api/repos/create")
    assert sent.json() == {"name": "demo-site", "organization": "alice", "visibility": "private", "type": "space",
                           "sdk": "static"}
    assert sent.authorization == f"Bearer {TOKEN}"
    assert "Created **alice/demo-site** (private, Static (free))" in texts(at)
    assert f"{hub.url}/spaces/alice/demo-site" in list(at.dataframe[0].value["url"])
    assert at.selectbox(key="manage_pick").value == "alice/demo-site"
    assert hub.space("alice/demo-site").private


def test_create_streamlit_space_pushes_the_template_in_one_commit(hub):
    at = create(open_page(tab="My Spaces"), "console", sdk="docker-streamlit", create_hardware="t4-small")
    assert hub.last("POST", "/api/repos/create").json()["sdk"] == "docker"
    assert hub.last("POST", "/api/repos/create").json()["hardware"] == "t4-small"
    assert set(hub.space("alice/console").files) >= {"Dockerfile", "app.py", "requirements.txt"}
    assert "Streamlit template was pushed in one commit (4 files)" in texts(at)


def test_invalid_name_shows_the_rule_and_sends_nothing(hub):
    at = open_page(tab="My Spaces")
    hub.clear_requests()
    at = create(at, "bad name!")
    assert "may only use letters, digits, '-', '_' and '.'" in errors(at)
    assert "Nothing was sent to the Hub" in errors(at)
    assert hub.requests == []


def test_payment_required_on_create_names_the_paid_plan(hub):
    hub.set_plan("alice", "free")
    at = create(open_page(tab="My Spaces"), "gpu-app", sdk="gradio")
    assert "creating one needs a paid plan: PRO for a personal account" in errors(at) and "static" in errors(at)
    assert "gpu-app" not in str(hub.spaces)


def test_taken_name_on_create_says_so(hub):
    at = create(open_page(tab="My Spaces"), "existing")
    assert "The name 'alice/existing' is already taken" in errors(at)


def test_read_only_token_is_told_it_lacks_write_scope(hub):
    hub.add_token("hf_READonly0000000000-feed", user="alice", role="read")
    at = create(open_page(token="hf_READonly0000000000-feed", tab="My Spaces"), "new-site")
    assert "lacks the scope to create the Space" in errors(at) and "write access" in errors(at)
    assert "new-site" not in str(hub.spaces)


def test_a_vanished_repo_shows_not_found_in_its_detail_panel(hub):
    at = search(open_page(), "Datasets", "imdb")
    del hub.datasets["stanfordnlp/imdb"]
    at = select_row(at, 0)
    assert "Dataset 'stanfordnlp/imdb' was not found." in errors(at)


def test_refused_token_shows_the_token_message(hub):
    at = open_page(token="hf_unknownTOKEN00000000-beef", tab="My Spaces")
    assert "The Hugging Face token (hf_…beef) was refused" in errors(at)
    assert "settings/tokens" in errors(at) and "unknownTOKEN" not in everything(at)


def test_push_commits_editor_files_with_the_message(hub):
    at = open_page(tab="My Spaces")
    at.number_input(key="files_count").set_value(2).run()
    at.text_input(key="file_path_0").input("app.py")
    at.text_area(key="file_text_0").input("import streamlit as st\nst.write('hi')\n")
    at.text_input(key="file_path_1").input("requirements.txt")
    at.text_area(key="file_text_1").input("streamlit\n")
    at.file_uploader(key="files_upload").set_value(("logo.png", b"\x89PNG-bytes", "image/png"))
    at.text_input(key="commit_message").input("Ship the app")
    at.button(key="files_push").click().run()
    assert not at.exception, at.exception
    commits = hub.requests_to("POST", "/api/spaces/alice/existing/commit/main")
    assert len(commits) == 1
    lines = commits[0].ndjson()
    assert lines[0] == {"key": "header", "value": {"summary": "Ship the app", "description": ""}}
    pushed = {line["value"]["path"]: base64.b64decode(line["value"]["content"]) for line in lines[1:]}
    assert pushed == {"app.py": b"import streamlit as st\nst.write('hi')\n", "requirements.txt": b"streamlit\n",
                      "logo.png": b"\x89PNG-bytes"}
    assert commits[0].authorization == f"Bearer {TOKEN}"
    assert "Pushed app.py, requirements.txt, logo.png to **alice/existing** in one commit" in texts(at)


def test_logs_viewer_shows_build_then_followed_run_logs(hub):
    space = hub.space("alice/existing")
    space.build_logs = ["Step 1/2 : FROM python:3.11\n", f"token was {TOKEN}\n", "Successfully built\n"]
    space.run_logs = ["You can now view your Streamlit app\n"]
    at = open_page(tab="My Spaces")
    at.button(key="logs_show").click().run()
    assert hub.last("GET", "/api/spaces/alice/existing/logs/build").authorization == f"Bearer {TOKEN}"
    shown = "\n".join(c.value for c in at.code)
    assert "Successfully built" in shown and TOKEN not in shown and "hf_…cdef" in shown
    assert "3 lines of build logs · the stream ended" in texts(at)
    at.session_state["logs_kind"] = "Run"
    at.toggle(key="logs_follow").set_value(True).run()
    at.button(key="logs_show").click().run()
    assert hub.last("GET", "/api/spaces/alice/existing/logs/run")
    assert "You can now view your Streamlit app" in "\n".join(c.value for c in at.code)
    assert any("of run logs" in s.label for s in at.status)


def test_restart_then_wait_shows_progress_until_running(hub):
    at = open_page(tab="My Spaces")
    at.button(key="space_restart").click().run()
    assert hub.last("POST", "/api/spaces/alice/existing/restart").authorization == f"Bearer {TOKEN}"
    assert "Restart requested: alice/existing is 🟡 APP_STARTING." in texts(at)
    at.button(key="space_wait").click().run(timeout=30)
    assert len(hub.requests_to("GET", "/api/spaces/alice/existing/runtime")) == 2
    assert "alice/existing is 🟢 RUNNING." in texts(at)


def test_secret_value_goes_to_the_hub_only(hub):
    at = open_page(tab="My Spaces")
    at.session_state["manage_tab"] = "Secrets & variables"
    at.run()
    value_input = at.text_input(key="secret_value")
    assert value_input.proto.type == value_input.proto.PASSWORD
    at.text_input(key="secret_key").input("OPENROUTER_API_KEY")
    value_input.input(SECRET_VALUE)
    at.button(key="secret_save").click().run()
    assert not at.exception, at.exception
    sent = hub.last("POST", "/api/spaces/alice/existing/secrets")
    assert sent.json()["key"] == "OPENROUTER_API_KEY" and sent.json()["value"] == SECRET_VALUE
    assert "Secret **OPENROUTER_API_KEY** saved" in texts(at)
    secrets = next(d.value for d in at.dataframe if "name" in d.value.columns)
    assert list(secrets["name"]) == ["OPENROUTER_API_KEY"] and list(secrets.columns) == ["name", "description",
                                                                                        "updated"]
    assert SECRET_VALUE not in everything(at, state=True) and "secretvalue" not in everything(at, state=True)


def test_variables_are_set_and_listed_with_their_values(hub):
    at = open_page(tab="My Spaces")
    at.session_state["manage_tab"] = "Secrets & variables"
    at.run()
    at.text_input(key="variable_key").input("MODE")
    at.text_input(key="variable_value").input("prod")
    at.button(key="variable_save").click().run()
    assert hub.last("POST", "/api/spaces/alice/existing/variables").json()["value"] == "prod"
    variables = next(d.value for d in at.dataframe if "value" in d.value.columns)
    assert list(variables["value"]) == ["prod"]


def test_duplicate_copies_into_my_account_privately(hub):
    at = open_page(tab="My Spaces")
    at.text_input(key="dup_source").input("gradio/hello-world")
    at.text_input(key="dup_name").input("hello-copy")
    at.button(key="dup_submit").click().run()
    assert not at.exception, at.exception
    sent = hub.last("POST", "/api/spaces/gradio/hello-world/duplicate")
    assert sent.json() == {"repository": "alice/hello-copy", "visibility": "private"}
    assert "Duplicated gradio/hello-world into **alice/hello-copy** (private)" in texts(at)
    assert at.selectbox(key="manage_pick").value == "alice/hello-copy"


def test_delete_refuses_without_the_typed_id_and_works_with_it(hub):
    at = open_page(tab="My Spaces")
    at.text_input(key="delete_confirm").input("existing")
    at.button(key="delete_submit").click().run()
    assert "Type the Space id 'alice/existing' exactly to confirm; nothing was deleted." in errors(at)
    assert not hub.requests_to("DELETE", "/api/repos/delete") and "alice/existing" in hub.spaces

    at.text_input(key="delete_confirm").input("alice/existing")
    at.button(key="delete_submit").click().run()
    assert not at.exception, at.exception
    sent = hub.last("DELETE", "/api/repos/delete")
    assert sent.json() == {"name": "existing", "organization": "alice", "type": "space"}
    assert "alice/existing" not in hub.spaces
    assert "Deleted **alice/existing**." in texts(at) and "You have no Spaces yet" in texts(at)
    actions = next(d.value for d in at.dataframe if "outcome" in d.value.columns)
    assert list(actions["action"])[:2] == ["delete", "delete"] and list(actions["outcome"])[:2] == \
        ["ok", "not_confirmed"]


# ----- MCP


def test_mcp_section_shows_the_configured_url_and_the_tool_registry(hub, tmp_path):
    (tmp_path / "agentic-config.yaml").write_text(
        "huggingface:\n  token: ${HF_TOKEN}\n  mcp_url: https://huggingface.co/mcp\n")
    at = open_page()
    assert "**URL** `https://huggingface.co/mcp`" in texts(at)
    tools = at.table[0].value
    assert {"search_models", "model_details", "my_spaces", "delete_space"} <= set(tools["Tool"])
    assert list(tools.loc[tools["Tool"] == "delete_space", "Changes things"]) == ["yes"]
    assert list(tools.loc[tools["Tool"] == "search_models", "Changes things"]) == [""]


def test_mcp_section_says_not_configured_without_a_url(hub):
    assert "Not configured" in texts(open_page())
