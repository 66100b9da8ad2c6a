"""The "Build from an idea" wizard on the Spaces page, under AppTest, against the fake Hub on 127.0.0.1.
The wizard's plain logic (`core/app/views/build.py`) is tested first, without Streamlit.

How the LLM is set up, and why. The wizard hands the agent this session's keys as LLM keys, exactly
as Chat does, and the Hub token separately (as its `HubClient`/`SpaceManager`). A session's
`huggingface` key is both: the Hub token and a key for the Hugging Face LLM provider. So with a token
the router would call router.huggingface.co. These tests keep the production wiring and write an
`agentic-config.yaml` (in the test's own cwd) whose `huggingface` provider has `url:` pointing at a
local OpenAI-compatible server that answers exactly what the demo provider answers (`demo_answer`, the
tested templates). The BYOK path is exercised for real (the key reaches 127.0.0.1 only), and the answers
are the demo's. Without a token (the dry run) no provider has a key and the real demo provider writes
the app.

Stripping the HF key from the LLM keys in the page would make the test simpler, but then a user's
HF token would no longer pay for generation, so the page does not do that.
"""

from __future__ import annotations

import base64
import threading
import time
import zipfile
from io import BytesIO
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.app.views.build import (
    BuildJob,
    active_job,
    build_token,
    builds_dir_for,
    check_space_name,
    files_zip,
    money,
    plain,
    push_commands,
    run_headline,
    run_rows,
    seconds_text,
    session_agent,
    start_build,
    step_views,
)
from core.app.views.spaces import HubToken
from core.build.workflow import RunState, StepState, WorkflowError
from core.llm.providers.demo import demo_answer
from core.llm.router import Router
from core.store import Store
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeModel
from tests.fake_openai import FakeOpenAI

APP = str(Path(__file__).resolve().parents[1] / "Home.py")
PAGE = "pages/spaces.py"
TAB = "Build from an idea"
TOKEN = SENTINEL_HF
SHARED = "hf_SHAREDtoken00000000-wxyz"
SENTIMENT_MODEL = "cardiffnlp/twitter-roberta-base-sentiment-latest"
STEPS = ["Understand the idea", "Choose the SDK and the model", "Generate the files", "Validate the files",
         "Local preview", "Create the Space and commit", "Follow the build", "Report"]


# --------------------------------------------------------------------------- core/app/views/build.py


def step(name: str, title: str, position: int, status: str, **extra) -> StepState:
    return StepState(name, title, position, status, **extra)


def run_state(status: str, steps: list[StepState], **extra) -> RunState:
    fields = {"inputs": {"idea": "a sentiment analysis demo", "private": True, "name": None}, "outputs": {},
              "error": None, "current_step": None, "created_at": 0.0, "started_at": 0.0, "finished_at": None}
    fields.update(extra)
    return RunState("run123", "build_space", status, steps=steps, **fields)


def test_step_views_give_each_step_its_state_timing_notes_and_error():
    state = run_state("running", [
        step("understand", "Understand the idea", 0, "done", attempts=1, duration_ms=120.0,
             outputs={"title": "Review *Mood*", "summary": "Tells the mood."}),
        step("choose", "Choose", 1, "done", attempts=1, duration_ms=12_500.0,
             outputs={"reasons": ["SDK docker-streamlit: the default."]}),
        step("generate", "Generate", 2, "running", attempts=2, started_at=100.0, notes=["Asked hf_router: 3 chars"]),
        step("validate", "Validate", 3, "pending"),
    ])
    views = step_views(state, now=103.0)
    assert [v.label for v in views] == ["Understand the idea · 0.1 s", "Choose · 12 s",
                                        "Generate · running · 3.0 s · attempt 2", "Validate · waiting"]
    assert [v.box_state for v in views] == ["complete", "complete", "running", None]
    assert [v.expanded for v in views] == [False, False, True, False]
    assert views[0].lines[0] == r"**Review \*Mood\***: Tells the mood."      # the model's text is escaped
    assert views[2].lines == [r"Asked hf\_router: 3 chars"]

    failed = run_state("failed", [step("build", "Follow the build", 0, "failed", attempts=1, duration_ms=2000.0,
                                       error="The Space is in BUILD_ERROR.\nlog line")])
    view = step_views(failed)[0]
    assert (view.box_state, view.label, view.error) == ("error", "Follow the build · failed · 2.0 s",
                                                        "The Space is in BUILD_ERROR.\nlog line")
    stale = run_state("failed", [step("build", "Follow the build", 0, "running", started_at=1.0)])
    assert step_views(stale)[0].label == "Follow the build · interrupted"        # its process is gone


def test_headlines_say_where_the_run_is_in_words():
    steps = [step("understand", "Understand the idea", 0, "done"), step("choose", "Choose", 1, "running"),
             step("create", "Create", 2, "pending")]
    assert run_headline(run_state("running", steps), {}, executing=True).text == \
        "Building **a sentiment analysis demo** — step 2 of 3: Choose."
    done = run_headline(run_state("done", steps), {"space_id": "alice/x", "stage": "RUNNING", "private": True,
                                                   "url": "http://hub/spaces/alice/x"}, executing=False)
    assert done.kind == "success" and "[open it on the Hub ↗](http://hub/spaces/alice/x)" in done.text
    assert run_headline(run_state("failed", steps, error="Create: paid plan, $9 *now*"), {}, executing=False).text \
        == r"**The build failed.** Create: paid plan, \$9 \*now\*"                   # escaped: shown as written
    dry = run_headline(run_state("stopped", steps, outputs={"build_dir": "/b/run123"}), {"dry_run": True},
                       executing=False)
    assert "nothing was created" in dry.text and "`/b/run123`" in dry.text
    assert "Resume it" in run_headline(run_state("running", steps), {}, executing=False).text


def test_dry_run_push_commands_name_the_folder_sdk_and_visibility():
    state = run_state("stopped", [step("understand", "U", 0, "done", outputs={"title": "Review Mood!"}),
                                  step("create", "C", 1, "stopped", outputs={"build_dir": "/data/builds/run123"})],
                      outputs={"build_dir": "/data/builds/run123"})
    assert push_commands(state, {"sdk": "docker-streamlit"}) == (
        "hf repos create <your-user>/review-mood --repo-type space --space-sdk docker --private\n"
        "hf upload <your-user>/review-mood /data/builds/run123 . --repo-type space")
    state.inputs.update(name="acme/site", private=False)
    assert push_commands(state, {"sdk": "static"}).startswith(
        "hf repos create acme/site --repo-type space --space-sdk static --public")


def test_small_formatters():
    assert [seconds_text(s) for s in (None, 0.42, 12.4, 125)] == ["—", "0.4 s", "12 s", "2 min 5 s"]
    assert [money(v) for v in (0, 0.000002, 1.5)] == ["$0", "<$0.01", "$1.50"]
    assert plain("use `hosted.allow_preview: true` now_") == r"use `hosted.allow_preview: true` now\_"
    assert plain("answered 200 at http://127.0.0.1:5/_stcore/health, then stopped.") == \
        "answered 200 at `http://127.0.0.1:5/_stcore/health`, then stopped."
    assert plain("say :red[hi] :rocket: at 10:30: ok") == r"say \:red\[hi\] \:rocket: at 10\:30: ok"
    archive = zipfile.ZipFile(BytesIO(files_zip({"app.py": "print(1)\n", "src/x.css": "a{}"})))
    assert sorted(archive.namelist()) == ["app.py", "src/x.css"] and archive.read("app.py") == b"print(1)\n"
    assert check_space_name("  ") is None and check_space_name("my-app") == "my-app"
    with pytest.raises(ValueError, match="letters, digits"):
        check_space_name("bad name!")
    rows = run_rows([{"id": "r1", "created_at": 0, "status": "stopped", "inputs": {"idea": "x"},
                      "outputs": {"dry_run": True}},
                     {"id": "r2", "created_at": 0, "status": "running", "inputs": {"idea": "y"}, "outputs": {}}])
    assert [r["status"] for r in rows] == ["dry run", "interrupted"]


def test_a_hosted_console_never_deploys_with_its_shared_token():
    shared = HubToken(SHARED, "shared")
    assert build_token(shared, hosted=False) == (shared, None)
    usable, why = build_token(shared, hosted=True)
    assert usable.value is None and "your own" in why
    mine = HubToken(TOKEN, "session")
    assert build_token(mine, hosted=True) == (mine, None)


def test_the_session_agent_is_kept_until_its_token_or_keys_change(tmp_path):
    store = Store(str(tmp_path / "db" / "spaces_os.db"))
    router = Router.from_config({}, db=store, env={})
    state: dict = {}
    kwargs = dict(router=router, store=store, endpoint="http://127.0.0.1:9", session="s1")
    agent = session_agent(state, token=HubToken(None, "none"), keys={}, **kwargs)
    assert session_agent(state, token=HubToken(None, "none"), keys={"openrouter": ""}, **kwargs) is agent
    assert agent.spaces is None and agent.builds_dir == tmp_path / "db" / "builds"   # next to the database
    with_key = session_agent(state, token=HubToken(None, "none"), keys={"openrouter": "sk-or-x"}, **kwargs)
    assert with_key is not agent and with_key.keys == {"openrouter": "sk-or-x"}
    with_token = session_agent(state, token=HubToken(TOKEN, "session"), keys={"openrouter": "sk-or-x"}, **kwargs)
    assert with_token.spaces is not None and with_token.hub.token == TOKEN
    assert TOKEN not in repr(state) and "sk-or-x" not in repr(state)
    assert builds_dir_for(store) == tmp_path / "db" / "builds"


class ScriptedAgent:
    """Stands in for `BuildAgent` in a `BuildJob`: `run` blocks until released, or raises what it is given."""

    def __init__(self, error: Exception | None = None):
        self.release = threading.Event()
        self.error = error
        self.workflow = type("Flow", (), {"redact": staticmethod(lambda text: text.replace(TOKEN, "hf_…cdef"))})()

    def start(self, idea, **options) -> str:
        return "run-" + idea.split()[-1]

    def run(self, run_id):
        if self.error is not None:
            raise self.error
        self.release.wait(5)


def test_one_build_at_a_time_per_session():
    state: dict = {}
    agent = ScriptedAgent()
    job = start_build(state, agent, "a landing page")
    assert job.alive and active_job(state) is job and job.run_id == "run-page"
    with pytest.raises(WorkflowError, match="already running in this session"):
        start_build(state, agent, "a chatbot")
    agent.release.set()
    assert job.wait(5) and job.error is None and active_job(state) is None
    assert start_build(state, agent, "a chatbot").wait(5)


def test_a_run_that_cannot_execute_says_why_in_words():
    busy = BuildJob(ScriptedAgent(WorkflowError("Run 'x' is already running in this process.")), "x").start()
    assert busy.wait(5) and busy.error == "Run 'x' is already running in this process."
    crash = BuildJob(ScriptedAgent(RuntimeError(f"disk full near {TOKEN}")), "y").start()
    assert crash.wait(5)
    assert crash.error == "The build stopped unexpectedly: RuntimeError: disk full near hf_…cdef"


# --------------------------------------------------------------------------- the page under AppTest


class DemoAnswers(FakeOpenAI):
    """A local OpenAI-compatible server that answers what the demo provider would (see the docstring)."""

    def _answer_text(self, body, reply) -> str:
        return demo_answer(body.get("messages") or [])


@pytest.fixture(scope="module")
def llm():
    server = DemoAnswers().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def server():
    with FakeHub() as hub:
        yield hub


@pytest.fixture
def hub(server: FakeHub, llm: DemoAnswers, monkeypatch, tmp_path) -> FakeHub:
    server.reset()
    llm.reset()
    server.add_token(TOKEN, user="alice")
    server.add_model(FakeModel(SENTIMENT_MODEL, pipeline_tag="text-classification", downloads=3_000_000,
                               providers={"hf-inference": {"status": "live", "providerId": SENTIMENT_MODEL,
                                                           "task": "text-classification"}}))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("SPACES_OS_HF_ROUTER_URL", server.router_url)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agentic-config.yaml").write_text(f"huggingface:\n  url: {llm.url}\n")
    st.cache_resource.clear()
    yield server
    st.cache_resource.clear()


def open_build_tab(*, token: str | None = TOKEN) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30).run()
    if token:
        at.session_state["keys"] = {"huggingface": token}
    at.session_state["spaces_tab"] = TAB
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("subheader", "markdown", "caption", "info", "error", "success", "warning", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def everything(at: AppTest) -> str:
    """Every element's proto as text: for "this value is shown nowhere"."""
    out = []

    def walk(node):
        if getattr(node, "proto", None) is not None:
            out.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(out)


def start(at: AppTest, idea: str, **widgets) -> AppTest:
    at.text_input(key="build_idea").input(idea)
    for key, value in widgets.items():
        next(w for w in at.get("selectbox") + at.get("toggle") + at.get("text_input") if w.key == key).set_value(value)
    at.button(key="build_start").click().run()
    assert not at.exception, at.exception
    return at


def follow(at: AppTest, *, timeout: float = 30) -> list[str]:
    """Rerun the page every 0.3 s (AppTest does not tick fragments) until no step is running; returns every
    step label seen while it ran."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        running = [s for s in at.status if s.state == "running"]
        seen += [s.label for s in at.status]
        if not running and not any("Building" in i.value for i in at.info):
            return seen
        assert time.monotonic() < deadline, f"the build did not finish in {timeout} s: {[s.label for s in at.status]}"
        time.sleep(0.3)
        at.run()
        assert not at.exception, at.exception


def test_a_build_deploys_a_private_space_reports_it_and_rolls_back(hub, llm):
    at = start(open_build_tab(), "a sentiment analysis demo")
    assert "Deploys with your token `hf_…cdef`" in texts(at)
    assert at.button(key="build_start").disabled                        # one build at a time
    seen = follow(at)
    assert any("running" in label for label in seen)                   # the steps were followed live

    assert [s.label.split(" · ")[0] for s in at.status] == STEPS
    assert all(s.state == "complete" for s in at.status), [(s.label, s.state) for s in at.status]
    create = hub.last("POST", "/api/repos/create").json()
    space_id = f"alice/{create['name']}"
    assert create["visibility"] == "private" and create["sdk"] == "docker" and create["name"].startswith(
        "sentiment-analysis-demo-")
    url = f"{hub.url}/spaces/{space_id}"
    success = "\n".join(s.value for s in at.success)
    assert f"**{space_id}** is RUNNING (private)" in success and f"({url})" in success

    commits = hub.requests_to("POST", f"/api/spaces/{space_id}/commit/main")
    agent_commit = next(c for c in commits if c.ndjson()[0]["value"]["summary"].startswith("Build agent"))
    pushed = {line["value"]["path"]: base64.b64decode(line["value"]["content"]).decode()
              for line in agent_commit.ndjson()[1:] if line["key"] == "file"}
    assert {"app.py", "requirements.txt", "README.md"} <= set(pushed)
    assert SENTIMENT_MODEL in pushed["app.py"] and 'os.environ.get("HF_TOKEN")' in pushed["app.py"]
    assert all(r.authorization == f"Bearer {TOKEN}" for r in commits)
    shown = {e.label: e.code[0].value for e in at.expander if e.code}          # the files, one expander each
    assert {"app.py", "requirements.txt", "README.md", "Dockerfile"} <= set(shown)
    assert shown["app.py"] == pushed["app.py"].rstrip("\n")                  # (st.code drops the last newline)
    # The generated Dockerfile equals the one the create step's template commit put there, so the Hub
    # client leaves it out of the agent's commit (as the real Hub does with unchanged files).
    assert hub.space(space_id).files["Dockerfile"].decode().rstrip("\n") == shown["Dockerfile"]
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Repairs"], metrics["LLM requests"], metrics["Cost"]) == ("0", "2", "<$0.01")
    assert f"model `{SENTIMENT_MODEL}` on hf-inference" in texts(at)
    assert "Add a secret named HF\\_TOKEN" in texts(at)
    assert [r.headers["authorization"] for r in llm.chat_requests] == [f"Bearer {TOKEN}"] * 2   # only 127.0.0.1
    assert "The code is written by an LLM through the router" in texts(at)
    assert TOKEN not in everything(at)

    at.button(key="build_rollback").click().run()
    assert f"Delete **{space_id}** from the Hub?" in texts(at) and space_id in hub.spaces   # asks first
    at.button(key="build_rollback_confirm").click().run()
    assert not at.exception, at.exception
    assert hub.last("DELETE", "/api/repos/delete").json()["name"] == create["name"]
    assert space_id not in hub.spaces
    assert f"Rolled back: Deleted {space_id}." in [t.value for t in at.toast]
    assert f"**Rolled back.** Deleted {space_id}." in texts(at)
    assert "build_rollback" not in [b.key for b in at.button]
    runs = next(d.value for d in at.dataframe if "idea" in d.value.columns)
    assert list(runs["status"]) == ["rolled back"] and list(runs["space"]) == [space_id]


def test_a_dry_run_without_a_token_writes_the_folder_sends_nothing_and_resumes_with_a_token(hub, tmp_path):
    at = open_build_tab(token=None)
    assert "**Dry run**" in texts(at) and "built-in templates" in texts(at)
    hub.clear_requests()
    at = start(at, "a landing page for my bakery", build_name="bakery-site")
    follow(at)

    assert [r.method for r in hub.requests if r.method != "GET"] == []        # nothing written anywhere
    folder = tmp_path / "builds"
    run_dir = next(folder.iterdir())
    assert {p.name for p in run_dir.iterdir()} == {"index.html", "README.md", "style.css"}
    body = texts(at)
    assert "Dry run: nothing was created on the Hub" in body and f"`{run_dir}`" in body
    assert f"hf upload <your-user>/bakery-site {run_dir} . --repo-type space" in body
    assert [s.state for s in at.status][:6] == ["complete"] * 6 and "Create the Space and commit · stopped here" \
        in [s.label for s in at.status][5]
    assert at.button(key="build_resume").disabled                               # nothing new without a token
    assert at.get("download_button")

    at.session_state["keys"] = {"huggingface": TOKEN}                            # a token now: push it
    at.run()
    at.button(key="build_resume").click().run()
    follow(at)
    assert hub.last("POST", "/api/repos/create").json()["name"] == "bakery-site"
    assert hub.space("alice/bakery-site").files.keys() >= {"index.html", "README.md", "style.css"}
    assert "**alice/bakery-site** is RUNNING" in "\n".join(s.value for s in at.success)


def test_hosted_console_keeps_preview_off_and_its_shared_token_for_itself(hub, monkeypatch):
    monkeypatch.setenv("SPACES_OS_HOSTED", "1")
    monkeypatch.setenv("HF_TOKEN", SHARED)
    hub.add_token(SHARED, user="owner")
    # Hosted, a session is its visitor (address + browser). AppTest's address is a new MagicMock on every
    # run, so the visitor is pinned here as a real browser's would be.
    monkeypatch.setattr("core.app.widgets.visitor_identity", lambda ip, agent, fallback: "v-test-visitor")
    at = open_build_tab(token=None)
    body = texts(at)
    assert "Local preview is **off** on this hosted console" in body
    assert "**Dry run**" in body          # the owner's token is not offered to visitors at all
    hub.clear_requests()
    follow(start(at, "a landing page for my bakery"))
    assert [r.method for r in hub.requests if r.method != "GET"] == []
    assert not hub.requests_to("GET", "/api/whoami-v2")
    preview = next(s for s in at.status if s.label.startswith("Local preview"))
    assert "skipped" in preview.label
    assert "Local preview: Local preview is off on a hosted console" in texts(at)
    assert SHARED not in everything(at)


def test_an_empty_idea_or_a_bad_name_is_refused_in_words_before_anything_runs(hub):
    at = start(open_build_tab(token=None), "   ")
    assert "Describe the app in a sentence first." in "\n".join(e.value for e in at.error)
    at = start(at, "a landing page", build_name="bad name!")
    assert "letters, digits" in "\n".join(e.value for e in at.error)
    assert "build_run" not in at.session_state and not at.status         # no run was recorded
