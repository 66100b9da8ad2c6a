"""The build-and-deploy agent end to end: the demo provider (no LLM key) against the fake Hub on 127.0.0.1.

An idea goes in; valid files are committed to a new private Space; a build that fails with a log leads
to exactly one repair commit; the run ends RUNNING with every step in `workflow_steps`. Also: a dry run
writes the files and creates nothing (and pushes them once a token is given), a new engine on the same
database resumes a run without redoing finished steps, rollback deletes the Space, a malformed answer is
re-asked once with its parse error, and the validator catches what would break a Space."""

from __future__ import annotations

import json
import re

import pytest

from core.build.agent import BuildAgent, marked_step, validate_files
from core.build.file_format import render_files
from core.build.preview_env import PreviewEnvs
from core.demo.builds import render_template, templates
from core.hub.client import HubClient
from core.hub.spaces import SpaceManager
from core.llm.router import Router
from core.store import Store
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeModel
from tests.fake_openai import Reply

SENTIMENT_MODEL = "cardiffnlp/twitter-roberta-base-sentiment-latest"
BUILD_LOG_ERROR = "ModuleNotFoundError: No module named 'pandas'"


class FlakyBuildHub(FakeHub):
    """The fake Hub, where the next `broken_builds` commits made by the build agent fail to build with a log."""

    broken_builds = 1
    failure_log = BUILD_LOG_ERROR

    def commit(self, h, r, id: str, rev: str) -> None:
        super().commit(h, r, id, rev)
        space = self.spaces.get(id)
        if space is not None and self.broken_builds > 0 and str(space.commits[-1]["summary"]).startswith("Build agent"):
            self.broken_builds -= 1
            space.stages = ["BUILDING", "BUILD_ERROR"]
            space.error_message = "Build failed with exit code: 1"
            space.build_logs = [*space.build_logs, "Traceback (most recent call last):\n", self.failure_log + "\n"]


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so the engine records nothing more."""


@pytest.fixture
def hub():
    with FlakyBuildHub() as fake:
        fake.add_token(SENTINEL_HF, user="alice")
        fake.add_model(FakeModel(SENTIMENT_MODEL, pipeline_tag="text-classification", downloads=3_000_000,
                                 providers={"hf-inference": {"status": "live", "providerId": SENTIMENT_MODEL,
                                                             "task": "text-classification"}}))
        yield fake


def make_agent(db_path, hub, tmp_path, *, token: str | None = SENTINEL_HF, router: Router | None = None,
               **options) -> BuildAgent:
    """A fresh store, router, Hub client and Space manager on `db_path`: what a restarted process builds."""
    store = Store(db_path)
    router = router or Router.from_config({}, db=store, env={})
    client = HubClient(hub.url, token) if hub is not None else None
    spaces = SpaceManager(client, store=store, session="operator") if token and client else None
    options.setdefault("preview_enabled", False)
    options.setdefault("preview_envs", PreviewEnvs(tmp_path / "preview-envs", offline=True))
    return BuildAgent(router, client, spaces, store, session="operator", builds_dir=tmp_path / "builds",
                      poll_interval=0.01, build_timeout=10, **options)


def agent_commits(space) -> list[dict]:
    return [c for c in space.commits if str(c["summary"]).startswith("Build agent")]


def decoded(files: dict[str, bytes]) -> dict[str, str]:
    return {path: data.decode() for path, data in files.items()}


# --------------------------------------------------------------------------- end to end


def test_idea_to_running_space_with_one_repair_commit_after_a_build_error(db_path, hub, tmp_path):
    agent = make_agent(db_path, hub, tmp_path, preview_enabled=True)
    events = []
    run_id = agent.start("a sentiment analysis demo")
    state = agent.run(run_id, on_event=events.append)

    assert state.status == "done", state.error
    report = agent.report(run_id)
    space_id = report["space_id"]
    assert report["stage"] == "RUNNING" and report["repairs"] == 1 and report["private"] is True
    assert report["sdk"] == "docker-streamlit" and report["model"] == SENTIMENT_MODEL       # from Hub search
    assert report["provider"] == "hf-inference" and report["url"].endswith(f"/spaces/{space_id}")
    assert report["cost_usd"] == 0 and report["requests"] == 3          # understand, generate, repair
    assert [s["name"] for s in report["steps"]] == ["understand", "choose", "generate", "validate", "preview",
                                                    "create", "build"]
    assert all(s["seconds"] is not None for s in report["steps"])

    space = hub.space(space_id)
    assert space.private and space.sdk == "docker" and space.stage == "RUNNING"
    first, repair = agent_commits(space)                                 # exactly one repair commit
    assert len(space.commits) == 2           # no template commit before ours: the Space built twice, not three times
    assert {"app.py", "requirements.txt", "README.md", "Dockerfile"} <= set(first["files"])
    assert set(repair["files"]) == {"requirements.txt"} and "repair 1 after BUILD_ERROR" in repair["summary"]
    assert "pandas" in repair["files"]["requirements.txt"].decode()     # the log tail reached the model
    files = decoded(space.files)
    assert files == agent.files(run_id) and validate_files(files, "docker-streamlit") == []
    assert SENTIMENT_MODEL in files["app.py"] and 'os.environ.get("HF_TOKEN")' in files["app.py"]
    assert all(SENTINEL_HF not in text for text in files.values())

    rows = agent.store.workflow_steps(run_id)
    assert [r["name"] for r in rows] == ["understand", "choose", "generate", "validate", "preview", "create", "build",
                                         "report"]
    assert all(r["status"] == "done" and r["attempts"] == 1 and r["duration_ms"] is not None for r in rows)
    build = rows[6]
    assert any("BUILD_ERROR" in note for note in build["notes"]) and build["outputs"]["stage"] == "RUNNING"
    assert rows[4]["outputs"]["http_status"] == 200                     # the local preview answered
    assert len(agent.store.usage_rows(task_id=run_id)) == 3             # every LLM call is tagged with the run

    kinds = [(e.kind, e.step) for e in events]
    assert kinds[0] == ("run_started", None) and kinds[-1] == ("run_done", None)
    assert [s for k, s in kinds if k == "step_done"] == [r["name"] for r in rows]
    assert any(e.kind == "progress" and "BUILD_ERROR" in e.message for e in events)


def test_dry_run_without_a_token_writes_the_files_and_creates_nothing_then_pushes_them_later(
        db_path, hub, tmp_path):
    hub.broken_builds = 0
    agent = make_agent(db_path, hub, tmp_path, token=None, hosted=True, preview_enabled=None)
    run_id = agent.start("a landing page for my bakery")
    state = agent.run(run_id)

    assert state.status == "stopped" and state.step("create").status == "stopped"
    assert state.step("preview").status == "skipped" and "hosted" in state.step("preview").outputs["reason"]
    assert [r.method for r in hub.requests if r.method != "GET"] == []       # nothing created anywhere
    folder = tmp_path / "builds" / run_id
    written = {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*") if p.is_file()}
    assert written == agent.files(run_id) and set(written) == {"index.html", "README.md", "style.css"}
    assert validate_files(written, "static") == []
    assert agent.report(run_id)["dry_run"] is True and state.outputs["build_dir"] == str(folder)

    pushed = make_agent(db_path, hub, tmp_path).resume(run_id)           # a token now: "ready to push"
    assert pushed.status == "done"
    space = hub.space(pushed.step("create").outputs["space_id"])
    assert space.sdk == "static" and decoded(space.files) == {**written}
    assert [r["attempts"] for r in agent.store.workflow_steps(run_id)][:5] == [1, 1, 1, 1, 1]


def test_restarted_engine_resumes_from_the_last_finished_step_without_redoing_any(db_path, hub, tmp_path):
    hub.broken_builds = 0
    agent = make_agent(db_path, hub, tmp_path)
    run_id = agent.start("a sentiment analysis demo")

    def die_when_the_build_starts(event):
        if event.kind == "step_started" and event.step == "build":
            raise Crash

    with pytest.raises(Crash):
        agent.run(run_id, on_event=die_when_the_build_starts)
    before = {r["name"]: r for r in agent.store.workflow_steps(run_id)}
    assert before["create"]["status"] == "done" and before["build"]["status"] == "running"
    agent.store.flush()                     # usage rows are written in the background: count them all
    llm_calls = len(agent.store.usage_rows(task_id=run_id))
    hub.clear_requests()

    restarted = make_agent(db_path, hub, tmp_path)                      # new store, router, Hub client, engine
    events = []
    state = restarted.resume(run_id, on_event=events.append)

    assert state.status == "done" and restarted.report(run_id)["stage"] == "RUNNING"
    paths = {(r.method, r.path) for r in hub.requests}
    assert not any(p.startswith("/api/models") for _, p in paths)        # no second Hub search
    assert ("POST", "/api/repos/create") not in paths
    assert not any(p.endswith("/commit/main") for _, p in paths)        # the files are not pushed twice
    assert any(p.endswith("/runtime") for _, p in paths)                # it went on following the build
    restarted.store.flush()
    assert len(restarted.store.usage_rows(task_id=run_id)) == llm_calls  # no LLM call repeated
    after = {r["name"]: r for r in restarted.store.workflow_steps(run_id)}
    for name in ("understand", "choose", "generate", "validate", "preview", "create"):
        assert after[name]["attempts"] == 1 and after[name]["started_at"] == before[name]["started_at"]
    assert after["build"]["attempts"] == 2 and after["build"]["status"] == "done"
    assert [e.step for e in events if e.kind == "step_reused"] == ["understand", "choose", "generate", "validate",
                                                                   "preview", "create"]
    assert len(agent_commits(hub.space(after["create"]["outputs"]["space_id"]))) == 1


def test_resume_inside_the_build_step_keeps_a_committed_repair(db_path, hub, tmp_path):
    agent = make_agent(db_path, hub, tmp_path)
    run_id = agent.start("a sentiment analysis demo")

    def die_after_the_repair_commit(event):
        if event.kind == "progress" and event.message.startswith("Committed the fix"):
            raise Crash

    with pytest.raises(Crash):
        agent.run(run_id, on_event=die_after_the_repair_commit)
    agent.store.flush()                     # usage rows are written in the background: count them all
    llm_calls = len(agent.store.usage_rows(task_id=run_id))
    restarted = make_agent(db_path, hub, tmp_path)
    state = restarted.resume(run_id)
    restarted.store.flush()

    assert state.status == "done" and state.step("build").outputs["repairs"] == 1
    assert len(agent_commits(hub.space(state.step("create").outputs["space_id"]))) == 2   # no second repair
    assert len(agent.store.usage_rows(task_id=run_id)) == llm_calls


def test_a_repair_that_changes_nothing_rebuilds_instead_of_an_empty_commit(db_path, hub, tmp_path):
    hub.failure_log = "Killed: the builder ran out of memory"           # nothing the model can fix in the files
    agent = make_agent(db_path, hub, tmp_path)
    state = agent.run(agent.start("a sentiment analysis demo"))
    assert state.status == "done" and state.step("build").outputs["repairs"] == 1
    space_id = state.step("create").outputs["space_id"]
    assert len(agent_commits(hub.space(space_id))) == 1
    assert hub.last("POST", f"/api/spaces/{space_id}/restart").param("factory") == "true"


def test_the_build_step_fails_with_the_log_tail_once_repairs_run_out(db_path, hub, tmp_path):
    hub.broken_builds = 5
    agent = make_agent(db_path, hub, tmp_path, max_repairs=1)
    state = agent.run(agent.start("a sentiment analysis demo"))
    assert state.status == "failed" and state.step("build").status == "failed"
    assert "BUILD_ERROR after 1 repair(s)" in state.error and BUILD_LOG_ERROR in state.error
    assert len(agent_commits(hub.space(state.step("create").outputs["space_id"]))) == 2


def test_rollback_deletes_the_space_the_run_created(db_path, hub, tmp_path):
    hub.broken_builds = 0
    agent = make_agent(db_path, hub, tmp_path)
    run_id = agent.start("a chatbot for my support team")
    state = agent.run(run_id)
    space_id = state.step("create").outputs["space_id"]
    assert space_id in hub.spaces

    rolled = agent.rollback(run_id)
    assert rolled.status == "rolled_back" and rolled.outputs["rollback"] == f"Deleted {space_id}."
    assert space_id not in hub.spaces
    assert hub.last("DELETE", "/api/repos/delete").json()["name"] == space_id.split("/")[1]
    assert agent.rollback(run_id).status == "rolled_back"               # asking again is harmless
    assert [a["action"] for a in agent.store.space_actions()][0] == "delete"


def test_a_free_plan_fails_the_create_step_with_the_hubs_reason_and_creates_nothing(db_path, hub, tmp_path):
    hub.set_plan("alice", "free")
    agent = make_agent(db_path, hub, tmp_path)
    state = agent.run(agent.start("a sentiment analysis demo"))
    assert state.status == "failed" and state.step("create").status == "failed"
    assert "paid plan" in state.error.lower() and not [s for s in hub.spaces if s.startswith("alice/")]
    assert agent.rollback(state.id).outputs["rollback"].startswith("Nothing to delete")


# --------------------------------------------------------------------------- the model's answers


UNDERSTANDING = json.dumps({"title": "Review Mood", "summary": "Tells the sentiment of a review.",
                            "task": "text-classification", "inputs": "a review", "outputs": "a label",
                            "audience": "shop owners", "sdk_preference": None})
GOOD_FILES = render_template("streamlit-sentiment", {"title": "Review Mood", "model": "m/x", "provider": "auto"})


def llm_agent(fake, db_path, tmp_path, **options) -> BuildAgent:
    store = Store(db_path)
    router = Router.from_config({"local": {"url": fake.url, "api_key": "k", "models": ["m"]}}, db=store, env={})
    return make_agent(db_path, None, tmp_path, token=None, router=router, **options)


def test_malformed_files_are_reasked_once_with_the_parse_error(fake, db_path, tmp_path):
    fake.queue(Reply(UNDERSTANDING), Reply("Sure!\n```python\nimport streamlit\n```"), Reply(render_files(GOOD_FILES)))
    agent = llm_agent(fake, db_path, tmp_path)
    state = agent.run(agent.start("a sentiment analysis demo"))

    assert state.status == "stopped"                                    # dry run: it got as far as creating
    assert len(fake.chat_requests) == 3
    reask = fake.chat_requests[2].body["messages"]
    assert marked_step(reask[-1]["content"]) == "generate"
    assert "could not be read: line 1: no `=== FILE: path ===` block" in reask[-1]["content"]
    assert reask[-2] == {"role": "assistant", "content": "Sure!\n```python\nimport streamlit\n```"}
    assert state.step("generate").outputs["reasked"] and agent.files(state.id) == GOOD_FILES


def test_files_malformed_twice_fail_the_generate_step(fake, db_path, tmp_path):
    fake.queue(Reply(UNDERSTANDING), Reply("no files"), Reply("=== FILE: app.py ===\nstill open"))
    agent = llm_agent(fake, db_path, tmp_path)
    state = agent.run(agent.start("a sentiment analysis demo"))
    assert state.status == "failed" and state.step("generate").status == "failed"
    assert "twice" in state.error and "never closed" in state.error and len(fake.chat_requests) == 3


def test_broken_files_get_one_fix_from_the_model_before_anything_is_pushed(fake, db_path, tmp_path):
    leaky = {**GOOD_FILES, "app.py": GOOD_FILES["app.py"] + '\nAPI_TOKEN = "hf_abcdefghijklmnopqrstuvw"\n'}
    fake.queue(Reply(UNDERSTANDING), Reply(render_files(leaky)),
               Reply(render_files({"app.py": GOOD_FILES["app.py"]})))
    agent = llm_agent(fake, db_path, tmp_path)
    state = agent.run(agent.start("a sentiment analysis demo"))
    assert state.status == "stopped"
    fix_prompt = fake.chat_requests[2].body["messages"][-1]["content"]
    assert marked_step(fix_prompt) == "fix" and "looks like a Hugging Face token" in fix_prompt
    assert state.step("validate").outputs["fixed"] and agent.files(state.id)["app.py"] == GOOD_FILES["app.py"]


# --------------------------------------------------------------------------- the local preview runs the app

PLOTTING_APP = GOOD_FILES["app.py"].replace("import os\n", "import os\n\nimport plotly\n", 1)


def test_a_preview_failure_reaches_the_repair_loop_with_its_traceback_before_anything_is_pushed(
        fake, db_path, tmp_path):
    listed = GOOD_FILES["requirements.txt"] + "plotly\n"
    fake.queue(Reply(UNDERSTANDING), Reply(render_files({**GOOD_FILES, "app.py": PLOTTING_APP})),
               Reply(render_files({"requirements.txt": listed})))
    agent = llm_agent(fake, db_path, tmp_path, preview_enabled=True)
    state = agent.run(agent.start("a sentiment analysis demo"))

    assert state.status == "stopped", state.error                       # previewed ok after one repair, then dry run
    repair = fake.chat_requests[2].body["messages"][-1]["content"]
    assert marked_step(repair) == "repair" and "PREVIEW_ERROR" in repair
    assert "No module named 'plotly'" in repair                         # the traceback's last lines reached the model
    preview = state.step("preview").outputs
    assert preview["status"] == "ok" and preview["repairs"] == 1
    assert "No module named 'plotly'" in "\n".join(preview["history"][0]["log_tail"])
    written = (tmp_path / "builds" / state.id / "requirements.txt").read_text()
    assert written == listed and agent.files(state.id)["requirements.txt"] == listed


def test_an_app_that_raises_fails_the_preview_with_the_traceback_when_repairs_run_out(fake, db_path, tmp_path):
    broken = GOOD_FILES["app.py"].replace("import os\n", 'import os\n\nraise ValueError("no such column")\n', 1)
    fake.queue(Reply(UNDERSTANDING), Reply(render_files({**GOOD_FILES, "app.py": broken})))
    agent = llm_agent(fake, db_path, tmp_path, preview_enabled=True, max_repairs=0)
    state = agent.run(agent.start("a sentiment analysis demo"))
    assert state.status == "failed" and state.step("preview").status == "failed"
    assert "ValueError: no such column" in state.error and not (tmp_path / "builds").exists()


# --------------------------------------------------------------------------- the demo chooses a template honestly


def test_an_image_classifier_idea_gets_a_starter_app_and_is_told_no_template_fits(db_path, tmp_path):
    agent = make_agent(db_path, None, tmp_path, token=None, preview_enabled=True)
    state = agent.run(agent.start("an image classifier"))

    assert state.status == "stopped", state.error                       # dry run, after a preview that ran the app
    note = state.step("understand").outputs["note"]
    assert "No tested template fits" in note and "images" in note
    assert any(note in n for n in agent.store.workflow_steps(state.id)[0]["notes"])
    assert note in agent.report(state.id)["notes"]
    assert agent.report(state.id)["model"] is None                      # no chat or sentiment model slipped in
    files = agent.files(state.id)
    assert files["app.py"] == render_template("streamlit-starter", {"title": "Image Classifier",
                                                                    "summary": "An image classifier."})["app.py"]
    assert "text_classification" not in files["app.py"] and "sentiment" not in files["app.py"].lower()
    assert state.step("preview").outputs["status"] == "ok"


# --------------------------------------------------------------------------- validation and templates


@pytest.mark.parametrize("name", sorted(templates()))
def test_every_template_renders_into_a_valid_app(name):
    info = templates()[name]
    files = render_template(name, {"title": 'Odd "title": #1', "summary": "x" * 200, "model": "org/model",
                                   "provider": "hf-inference"})
    assert validate_files(files, info["sdk"]) == []
    assert not any("{{" in text for text in files.values())
    if info["task"]:
        assert "'org/model'" in files["app.py"] and "api_key=" in files["app.py"]


def break_it(files: dict[str, str], path: str, old: str, new: str) -> dict[str, str]:
    assert old in files[path]
    return {**files, path: files[path].replace(old, new, 1)}


@pytest.mark.parametrize(("change", "problem"), [
    (lambda f: {k: v for k, v in f.items() if k != "Dockerfile"}, "Dockerfile is missing"),
    (lambda f: break_it(f, "app.py", "import os", "import os\nif True print(1)"), r"app\.py line \d+:"),
    (lambda f: break_it(f, "README.md", "app_port: 8501\n", ""), "needs app_port"),
    (lambda f: break_it(f, "README.md", "sdk: docker", "sdk: streamlit"), "needs sdk: docker"),
    (lambda f: break_it(f, "README.md", "---\ntitle", "title"), "must start with YAML front matter"),
    (lambda f: break_it(f, "README.md", "colorTo: gray", "colorTo: teal"), "colorTo must be one of"),
    (lambda f: break_it(f, "requirements.txt", "streamlit>=1.40", "streamlit>=>1"), "requirements.txt line 1"),
    (lambda f: break_it(f, "requirements.txt", "streamlit>=1.40", "--extra-index-url http://x\nstreamlit"),
     "pip options"),
    (lambda f: break_it(f, "requirements.txt", "streamlit>=1.40\n", ""), "must list streamlit"),
    (lambda f: break_it(f, "app.py", "api_key=api_key", 'api_key="not-from-env"'), "must come from the environment"),
    (lambda f: break_it(f, "app.py", "provider=PROVIDER, api_key=api_key", "provider=PROVIDER"),
     "must get api_key"),
    (lambda f: break_it(f, "app.py", 'os.environ.get("HF_TOKEN")', 'st.secrets["HF_TOKEN"]'), "st.secrets"),
    (lambda f: {**f, "config.py": "OPENAI_KEY = 'sk-proj-abcdefghijklmnopqrstuvwxyz'\n"}, "looks like an API key"),
    (lambda f: {**f, "notes.md": 'password: "correct-horse-battery-staple"\n'}, "key-looking value"),
    (lambda f: {**f, "Dockerfile": f["Dockerfile"].replace("8501", "9999")}, "port 8501"),
])
def test_validation_catches_what_would_break_or_leak(change, problem):
    files = render_template("streamlit-sentiment", {"title": "T", "model": "org/m", "provider": "auto"})
    problems = validate_files(change(files), "docker-streamlit")
    assert any(re.search(problem, p) for p in problems), problems


def test_demo_provider_answers_build_prompts_only_when_marked_and_complete():
    from core.build.agent import embed_json, marker
    from core.llm.providers.demo import demo_answer
    idea = {"role": "user", "content": f"{marker('understand')}\n{embed_json('IDEA', {'idea': 'a gradio chatbot'})}"}
    assert json.loads(demo_answer([idea]))["sdk_preference"] == "gradio"
    assert "=== FILE" not in demo_answer([{"role": "user", "content": "write files for a sentiment app"}])
    # A marked prompt without its data falls back to the ordinary demo answers.
    assert "=== FILE" not in demo_answer([{"role": "user", "content": f"{marker('generate')}\nno plan here"}])
