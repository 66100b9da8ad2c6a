"""Space lifecycle against the fake Hub: requests and payloads sent, errors in plain words, and one
`space_actions` row per change in the real store, never holding the token or a secret value."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import pytest

from core.hub.client import HubClient
from core.hub.errors import HubActionError, HubErrorKind
from core.hub.spaces import SpaceManager, streamlit_template_files
from core.llm.keys import session_hash
from core.store import Store
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeSpace

TOKEN = SENTINEL_HF
SESSION = "session-abc"


@pytest.fixture
def fake_hub(fake_hub: FakeHub) -> FakeHub:
    """conftest's fake Hub (TOKEN is alice's) with one Space of hers."""
    fake_hub.add_space(FakeSpace("alice/existing", sdk="docker", private=True, title="Existing",
                                 files={"README.md": b"---\nsdk: docker\n---\n", "old.txt": b"old"}))
    return fake_hub


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "spaces.db")


@pytest.fixture
def spaces(fake_hub: FakeHub, store: Store) -> SpaceManager:
    return SpaceManager(HubClient(fake_hub.url, TOKEN), store=store, session=SESSION)


def manager_with(fake_hub: FakeHub, store: Store, token: str | None) -> SpaceManager:
    return SpaceManager(fake_hub.url, token, store=store, session=SESSION)


def rows(store: Store) -> list[dict]:
    """space_actions rows, oldest first."""
    return list(reversed(store.space_actions()))


def assert_no_secret_in_rows(store: Store, *secrets: str) -> None:
    for row in store.space_actions():
        for secret in secrets:
            assert secret not in repr(row)


# --------------------------------------------------------------------------- create and push


def test_create_streamlit_space_is_private_docker_and_gets_the_template_in_one_commit(
        spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    created = spaces.create_space("console")

    assert created.id == "alice/console" and created.url == f"{fake_hub.url}/spaces/alice/console"
    assert fake_hub.last("GET", "/api/whoami-v2").authorization == f"Bearer {TOKEN}"
    sent = fake_hub.last("POST", "/api/repos/create")
    assert sent.json() == {"name": "console", "organization": "alice", "visibility": "private", "type": "space",
                           "sdk": "docker"}
    assert sent.authorization == f"Bearer {TOKEN}"
    commits = fake_hub.requests_to("POST", "/api/spaces/alice/console/commit/main")
    assert len(commits) == 1
    lines = commits[0].ndjson()
    assert lines[0] == {"key": "header", "value": {"summary": "Add Streamlit template (Spaces OS)",
                                                   "description": ""}}
    pushed = {ln["value"]["path"]: base64.b64decode(ln["value"]["content"]).decode() for ln in lines[1:]
              if ln["key"] == "file"}
    assert set(pushed) == {"README.md", "Dockerfile", "app.py", "requirements.txt"}
    assert "sdk: docker\n" in pushed["README.md"] and "app_port: 8501\n" in pushed["README.md"]
    assert "useradd -m -u 1000 user" in pushed["Dockerfile"]
    assert "--server.enableXsrfProtection=false" in pushed["Dockerfile"] and "--server.port=8501" in pushed["Dockerfile"]
    assert "import streamlit as st" in pushed["app.py"] and "streamlit" in pushed["requirements.txt"]
    assert fake_hub.space("alice/console").private is True
    assert [(r["action"], r["outcome"], r["space_id"]) for r in rows(store)] == [
        ("create", "ok", "alice/console"), ("push", "ok", "alice/console")]
    assert rows(store)[0]["detail"] == "created docker-streamlit Space, private"
    assert rows(store)[0]["session"] == session_hash(SESSION) != SESSION


def test_create_without_the_template_makes_no_commit_for_callers_that_push_their_own_files(
        spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    created = spaces.create_space("console", template=False)
    assert created.template_commit is None and fake_hub.space("alice/console").sdk == "docker"
    assert fake_hub.requests_to("POST", "/api/spaces/alice/console/commit/main") == []
    assert [r["action"] for r in rows(store)] == ["create"]


@pytest.mark.parametrize(("sdk", "hub_sdk"), [("gradio", "gradio"), ("static", "static")])
def test_create_other_sdks_public_with_hardware_and_no_template(
        spaces: SpaceManager, fake_hub: FakeHub, sdk: str, hub_sdk: str) -> None:
    created = spaces.create_space("alice/demo", sdk=sdk, private=False, hardware="t4-small")

    body = fake_hub.last("POST", "/api/repos/create").json()
    assert body == {"name": "demo", "organization": "alice", "visibility": "public", "type": "space",
                    "sdk": hub_sdk, "hardware": "t4-small"}
    assert created.template_commit is None
    assert fake_hub.requests_to("GET", "/api/whoami-v2") == []       # owner given: no whoami
    assert fake_hub.requests_to("POST", "/api/spaces/alice/demo/commit/main") == []


@pytest.mark.parametrize("title", ['My "quoted" app', "back\\slash: colon # hash", "  spaced   out  "])
def test_streamlit_template_survives_any_title(title: str) -> None:
    import ast

    import yaml

    files = streamlit_template_files(title)
    front = yaml.safe_load(files["README.md"].split("---\n")[1])
    assert front["sdk"] == "docker" and front["app_port"] == 8501
    assert front["title"] == " ".join(title.split())
    ast.parse(files["app.py"])                       # the title cannot break the Python source


def test_push_files_sends_one_commit_with_message_files_and_deletions(
        spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    result = spaces.push_files("alice/existing", {"app.py": "print('hi')\n", "assets/logo.bin": b"\x00\x01\xff"},
                               "Deploy v2", delete=["old.txt"])

    commit = fake_hub.last("POST", "/api/spaces/alice/existing/commit/main")
    assert commit.headers["content-type"] == "application/x-ndjson"
    lines = commit.ndjson()
    assert lines[0]["value"]["summary"] == "Deploy v2"
    files = {ln["value"]["path"]: base64.b64decode(ln["value"]["content"]) for ln in lines if ln["key"] == "file"}
    assert files == {"app.py": b"print('hi')\n", "assets/logo.bin": b"\x00\x01\xff"}
    assert {"key": "deletedFile", "value": {"path": "old.txt"}} in lines
    preupload = fake_hub.last("POST", "/api/spaces/alice/existing/preupload/main").json()
    assert {f["path"] for f in preupload["files"]} == {"app.py", "assets/logo.bin"}
    assert len(fake_hub.requests_to("POST", "/api/spaces/alice/existing/commit/main")) == 1
    state = fake_hub.space("alice/existing")
    assert state.files["app.py"] == b"print('hi')\n" and "old.txt" not in state.files
    assert result.paths == ["app.py", "assets/logo.bin"] and result.deleted == ["old.txt"] and result.oid
    assert rows(store)[-1]["detail"] == "pushed 2 files: app.py, assets/logo.bin; deleted 1 file: old.txt"


@pytest.mark.parametrize(("files", "message", "words"), [
    ({"../escape.py": "x"}, "m", "not a valid file path"),
    ({"/etc/passwd": "x"}, "m", "not a valid file path"),
    ({".git/config": "x"}, "m", "not a valid file path"),
    ({"a//b.py": "x"}, "m", "not a valid file path"),
    ({"app.py": "x"}, "   ", "Write a commit message"),
    ({}, "m", "no files to push"),
    ({"app.py": 3}, "m", "text or bytes"),
])
def test_push_refuses_bad_input_before_sending(spaces: SpaceManager, fake_hub: FakeHub, store: Store,
                                               files: dict, message: str, words: str) -> None:
    with pytest.raises(HubActionError, match=words) as caught:
        spaces.push_files("alice/existing", files, message)
    assert caught.value.kind == HubErrorKind.INVALID_INPUT
    assert fake_hub.requests == []
    assert rows(store)[-1]["outcome"] == "invalid_input"


# --------------------------------------------------------------------------- names checked before sending


@pytest.mark.parametrize("name", ["bad--name", "-lead", "trail.", "has space", "x" * 97, "a.git", "a/b/c"])
def test_invalid_names_are_refused_before_any_request(spaces: SpaceManager, fake_hub: FakeHub, store: Store,
                                                      name: str) -> None:
    with pytest.raises(HubActionError) as caught:
        spaces.create_space(name)
    assert caught.value.kind == HubErrorKind.INVALID_NAME
    assert "Nothing was sent" in caught.value.hint
    assert fake_hub.requests == []                                     # not even whoami
    assert rows(store)[-1]["action"] == "create" and rows(store)[-1]["outcome"] == "invalid_name"


def test_other_actions_check_the_space_id_before_sending(spaces: SpaceManager, fake_hub: FakeHub) -> None:
    for call in (lambda: spaces.restart("alice/bad..id"), lambda: spaces.logs("nope"),
                 lambda: spaces.runtime("a/b/c"), lambda: spaces.set_secret("x--y/z", "K", "v"),
                 lambda: spaces.duplicate("gradio/hello-world", "bad--copy")):
        with pytest.raises(HubActionError) as caught:
            call()
        assert caught.value.kind == HubErrorKind.INVALID_NAME
    assert fake_hub.requests == []


def test_unknown_sdk_or_hardware_is_refused_before_sending(spaces: SpaceManager, fake_hub: FakeHub) -> None:
    with pytest.raises(HubActionError, match="Unknown SDK 'streamlit'"):
        spaces.create_space("alice/app", sdk="streamlit")
    with pytest.raises(HubActionError, match="Unknown hardware 'h100-huge'"):
        spaces.create_space("alice/app", sdk="gradio", hardware="h100-huge")
    assert fake_hub.requests == []


def test_a_token_pasted_as_the_space_name_is_refused_before_sending(spaces: SpaceManager, fake_hub: FakeHub,
                                                                     store: Store) -> None:
    for name in (TOKEN, f"alice/{TOKEN}", "sk-or-v1-0123456789abcdef-0123"):
        with pytest.raises(HubActionError, match="looks like an access token") as caught:
            spaces.create_space(name)
        assert caught.value.kind == HubErrorKind.INVALID_NAME
    assert fake_hub.requests == []
    assert [r["outcome"] for r in rows(store)] == ["invalid_name"] * 3
    assert_no_secret_in_rows(store, TOKEN, "sk-or-v1-0123456789abcdef-0123")


def test_without_a_token_create_is_refused_before_sending(fake_hub: FakeHub, store: Store) -> None:
    with pytest.raises(HubActionError) as caught:
        manager_with(fake_hub, store, None).create_space("console")
    assert caught.value.kind == HubErrorKind.AUTH and "none is set" in caught.value.message
    assert fake_hub.requests == []


# --------------------------------------------------------------------------- every error in plain words


def _fail_create(fake_hub: FakeHub, status: int, **kw) -> None:
    fake_hub.fail("/api/repos/create", status, **kw)


@pytest.mark.parametrize(("setup", "token", "kind", "words"), [
    (lambda h: None, "hf_unknownToken00001234", HubErrorKind.AUTH,
     ["token (hf_…1234) was refused", "/settings/tokens"]),
    (lambda h: h.add_token("hf_readOnlyToken0005678", user="alice", role="read"), "hf_readOnlyToken0005678",
     HubErrorKind.FORBIDDEN, ["lacks the scope to create the Space", "needs write access",
                              "Create a token with write access at"]),
    (lambda h: h.set_plan("alice", "free"), TOKEN, HubErrorKind.PAYMENT,
     ["Gradio and Docker Spaces run on compute, and creating one needs a paid plan: PRO for a personal account, "
      "Team or Enterprise for an organization. Static Spaces are free.",
      "The Hub said: Gradio and Docker Spaces require a paid plan (PRO, Team or Enterprise). Pick the static SDK"]),
    (lambda h: None, TOKEN, HubErrorKind.NAME_TAKEN, ["The name 'alice/existing' is already taken"]),
    (lambda h: _fail_create(h, 429, retry_after=30), TOKEN, HubErrorKind.RATE_LIMITED, ["retry after 30 s"]),
    (lambda h: _fail_create(h, 502), TOKEN, HubErrorKind.UNAVAILABLE, ["unavailable right now (HTTP 502)"]),
])
def test_create_failures_in_plain_words_are_recorded(fake_hub: FakeHub, store: Store, setup, token: str,
                                                     kind: HubErrorKind, words: list[str]) -> None:
    setup(fake_hub)
    name = "alice/existing" if kind == HubErrorKind.NAME_TAKEN else "alice/new-app"
    with pytest.raises(HubActionError) as caught:
        manager_with(fake_hub, store, token).create_space(name, sdk="docker-streamlit")
    err = caught.value
    assert err.kind == kind
    for phrase in words:
        assert phrase in str(err)
    assert token not in str(err) and TOKEN not in str(err)
    row = rows(store)[-1]
    assert (row["action"], row["outcome"], row["space_id"]) == ("create", kind.value, name)
    assert row["detail"] == err.message
    assert_no_secret_in_rows(store, token, TOKEN)
    assert fake_hub.requests_to("POST", "/api/spaces/alice/new-app/commit/main") == []   # no push after a failure


def test_a_failed_template_push_leaves_the_created_space_and_says_so(spaces: SpaceManager, fake_hub: FakeHub,
                                                                    store: Store) -> None:
    fake_hub.fail("/api/spaces/alice/console/commit/main", 503)
    with pytest.raises(HubActionError, match="could not push files to the Space"):
        spaces.create_space("alice/console")
    assert "alice/console" in fake_hub.spaces
    assert [(r["action"], r["outcome"]) for r in rows(store)] == [("create", "ok"), ("push", "unavailable")]


def test_402_is_lifted_for_static_spaces_on_a_free_plan(spaces: SpaceManager, fake_hub: FakeHub) -> None:
    fake_hub.set_plan("alice", "free")
    assert spaces.create_space("alice/site", sdk="static").id == "alice/site"


def test_rate_limited_action_reports_when_to_retry(spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    fake_hub.fail("/api/spaces/alice/existing/restart", 429, retry_after=7)
    with pytest.raises(HubActionError) as caught:
        spaces.restart("alice/existing")
    assert caught.value.retry_after == 7 and caught.value.status == 429
    assert "retry after 7 s" in caught.value.message
    assert rows(store)[-1]["outcome"] == "rate_limited"


def test_missing_space_is_not_found_and_recorded(spaces: SpaceManager, store: Store) -> None:
    with pytest.raises(HubActionError) as caught:
        spaces.pause("alice/ghost")
    assert caught.value.kind == HubErrorKind.NOT_FOUND
    assert caught.value.message == "Space 'alice/ghost' was not found."
    assert (rows(store)[-1]["action"], rows(store)[-1]["outcome"]) == ("pause", "not_found")


def test_acting_on_someone_elses_space_is_forbidden(spaces: SpaceManager) -> None:
    with pytest.raises(HubActionError) as caught:
        spaces.restart("gradio/hello-world")
    assert caught.value.kind == HubErrorKind.FORBIDDEN


# --------------------------------------------------------------------------- logs, runtime, wait


def test_build_and_run_logs_come_as_lines(spaces: SpaceManager, fake_hub: FakeHub) -> None:
    space = fake_hub.space("alice/existing")
    space.build_logs = ["Step 1/2 : FROM python:3.11-slim\n", "ERROR: No matching distribution\n"]
    space.run_logs = ["Collecting usage statistics.\n", f"debug: token is {TOKEN}\n"]

    build = list(spaces.logs("alice/existing", build=True))
    run = list(spaces.logs("alice/existing", follow=True))

    assert build == ["Step 1/2 : FROM python:3.11-slim\n", "ERROR: No matching distribution\n"]
    assert run[0] == "Collecting usage statistics.\n"
    assert TOKEN not in run[1] and "hf_…cdef" in run[1]              # key-shaped text is masked on screen
    assert fake_hub.last("GET", "/api/spaces/alice/existing/logs/build").authorization == f"Bearer {TOKEN}"
    assert fake_hub.requests_to("GET", "/api/spaces/alice/existing/logs/run")


def test_log_errors_surface_in_plain_words_while_iterating(spaces: SpaceManager, fake_hub: FakeHub) -> None:
    fake_hub.fail("/api/spaces/alice/existing/logs/run", 403)
    lines = spaces.logs("alice/existing")
    with pytest.raises(HubActionError) as caught:
        next(iter(lines))
    assert caught.value.kind == HubErrorKind.FORBIDDEN


def test_wait_moves_from_building_to_running_and_reports_progress(
        spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    fake_hub.space("alice/existing").stages = ["BUILDING", "BUILDING", "APP_STARTING", "RUNNING"]
    seen: list[str] = []

    state = spaces.wait_for_stage("alice/existing", timeout=5, poll_interval=0.01,
                                  on_progress=lambda s, elapsed: seen.append(s.stage))

    assert seen == ["BUILDING", "BUILDING", "APP_STARTING", "RUNNING"]
    assert state.stage == "RUNNING" and state.hardware == "cpu-basic" and not state.is_error
    assert len(fake_hub.requests_to("GET", "/api/spaces/alice/existing/runtime")) == 4
    assert (rows(store)[-1]["action"], rows(store)[-1]["outcome"]) == ("wait", "ok")
    assert rows(store)[-1]["detail"].startswith("settled in RUNNING")


def test_wait_returns_a_build_error_and_the_build_logs_explain_it(
        spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    space = fake_hub.space("alice/existing")
    space.stages, space.error_message = ["BUILDING", "BUILD_ERROR"], "Build failed with exit code: 1"
    space.build_logs = ["ERROR: Could not find a version that satisfies the requirement nope\n"]

    state = spaces.wait_for_stage("alice/existing", timeout=5, poll_interval=0.01)

    assert state.stage == "BUILD_ERROR" and state.is_error and state.error == "Build failed with exit code: 1"
    assert (rows(store)[-1]["action"], rows(store)[-1]["outcome"]) == ("wait", "space_error")
    assert "Could not find a version" in "".join(spaces.logs("alice/existing", build=True))


def test_wait_times_out_in_plain_words(spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    fake_hub.space("alice/existing").stages = ["BUILDING"]
    with pytest.raises(HubActionError) as caught:
        spaces.wait_for_stage("alice/existing", timeout=0.05, poll_interval=0.01)
    assert caught.value.kind == HubErrorKind.TIMEOUT
    assert "'alice/existing' is still BUILDING after 0.05 s" in caught.value.message
    assert rows(store)[-1]["outcome"] == "timeout"


def test_pushing_files_rebuilds_and_wait_sees_it_through(spaces: SpaceManager, fake_hub: FakeHub) -> None:
    spaces.push_files("alice/existing", {"app.py": "print(1)\n"}, "rebuild")
    assert spaces.runtime("alice/existing").stage == "BUILDING"
    assert spaces.wait_for_stage("alice/existing", poll_interval=0.01).stage == "RUNNING"
    assert "Commit SHA" in "".join(spaces.logs("alice/existing", build=True))


def test_restart_pause_and_hardware(spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    restarted = spaces.restart("alice/existing", factory=True)
    assert fake_hub.last("POST", "/api/spaces/alice/existing/restart").param("factory") == "true"
    assert restarted.stage == "APP_STARTING" and not restarted.is_settled
    paused = spaces.pause("alice/existing")
    assert paused.stage == "PAUSED" and paused.hardware is None
    upgraded = spaces.request_hardware("alice/existing", "t4-small", sleep_time=3600)
    assert fake_hub.last("POST", "/api/spaces/alice/existing/hardware").json() == {"flavor": "t4-small",
                                                                                   "sleepTimeSeconds": 3600}
    assert upgraded.requested_hardware == "t4-small"
    assert [(r["action"], r["outcome"]) for r in rows(store)] == [("restart", "ok"), ("pause", "ok"),
                                                                  ("hardware", "ok")]
    assert rows(store)[0]["detail"] == "factory rebuild requested"


# --------------------------------------------------------------------------- secrets and variables


def test_secret_values_are_write_only(spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    value = "plain-secret-value-7781"
    spaces.set_secret("alice/existing", "OPENROUTER_API_KEY", value, description="router key")

    assert fake_hub.last("POST", "/api/spaces/alice/existing/secrets").json() == {
        "key": "OPENROUTER_API_KEY", "value": value, "description": "router key"}
    listed = spaces.list_secrets("alice/existing")
    assert [(s.key, s.description) for s in listed] == [("OPENROUTER_API_KEY", "router key")]
    assert not hasattr(listed[0], "value") and value not in repr(listed)

    spaces.delete_secret("alice/existing", "OPENROUTER_API_KEY")
    assert fake_hub.last("DELETE", "/api/spaces/alice/existing/secrets").json() == {"key": "OPENROUTER_API_KEY"}
    assert [r["detail"] for r in rows(store)] == ["secret OPENROUTER_API_KEY set", "secret OPENROUTER_API_KEY deleted"]
    assert_no_secret_in_rows(store, value, TOKEN)


def test_a_secret_value_echoed_by_the_hub_is_redacted(spaces: SpaceManager, fake_hub: FakeHub,
                                                      store: Store) -> None:
    value = "plain-secret-value-7781"
    fake_hub.fail("/api/spaces/alice/existing/secrets", 400, method="POST",
                  body={"error": f"Invalid secret value '{value}' for key"})
    with pytest.raises(HubActionError) as caught:
        spaces.set_secret("alice/existing", "API_KEY", value)
    assert caught.value.kind == HubErrorKind.BAD_REQUEST and "Invalid secret value" in str(caught.value)
    assert value not in str(caught.value)
    assert_no_secret_in_rows(store, value)


def test_a_token_pasted_into_the_name_field_is_not_recorded(spaces: SpaceManager, store: Store) -> None:
    spaces.set_secret("alice/existing", TOKEN, "value")       # the name field fits the env-var rule
    assert rows(store)[-1]["detail"] == "secret hf_…cdef set"
    assert_no_secret_in_rows(store, TOKEN)


@pytest.mark.parametrize("key", ["1STARTS_WITH_DIGIT", "HAS-DASH", "", "has space", "X" * 101])
def test_bad_secret_or_variable_names_are_refused_before_sending(spaces: SpaceManager, fake_hub: FakeHub,
                                                                 key: str) -> None:
    with pytest.raises(HubActionError, match="letters, digits and '_'"):
        spaces.set_secret("alice/existing", key, "v")
    with pytest.raises(HubActionError, match="letters, digits and '_'"):
        spaces.set_variable("alice/existing", key, "v")
    assert fake_hub.requests == []


def test_variables_are_set_listed_and_deleted(spaces: SpaceManager, fake_hub: FakeHub) -> None:
    after_set = spaces.set_variable("alice/existing", "MODE", "prod", description="run mode")
    assert fake_hub.last("POST", "/api/spaces/alice/existing/variables").json() == {
        "key": "MODE", "value": "prod", "description": "run mode"}
    assert [(v.key, v.value) for v in after_set] == [("MODE", "prod")]
    assert [(v.key, v.value) for v in spaces.list_variables("alice/existing")] == [("MODE", "prod")]
    assert spaces.delete_variable("alice/existing", "MODE") == []
    assert fake_hub.last("DELETE", "/api/spaces/alice/existing/variables").json() == {"key": "MODE"}


# --------------------------------------------------------------------------- duplicate and delete


def test_duplicate_copies_under_my_name_privately(spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    copy = spaces.duplicate("gradio/hello-world", "hello-copy")

    assert fake_hub.last("POST", "/api/spaces/gradio/hello-world/duplicate").json() == {
        "repository": "alice/hello-copy", "visibility": "private"}
    assert copy.id == "alice/hello-copy" and fake_hub.space("alice/hello-copy").files["app.py"]
    assert (rows(store)[-1]["space_id"], rows(store)[-1]["detail"]) == (
        "alice/hello-copy", "duplicated from gradio/hello-world, private")


def test_duplicate_names_the_taken_target_or_the_missing_source(spaces: SpaceManager, store: Store) -> None:
    with pytest.raises(HubActionError) as caught:
        spaces.duplicate("gradio/hello-world", "alice/existing")
    assert caught.value.kind == HubErrorKind.NAME_TAKEN and "'alice/existing' is already taken" in caught.value.message
    with pytest.raises(HubActionError) as caught:
        spaces.duplicate("nobody/missing", "alice/copy")
    assert caught.value.message == "Space 'nobody/missing' was not found."
    assert [r["outcome"] for r in rows(store)] == ["name_taken", "not_found"]


@pytest.mark.parametrize("typed", ["existing", "alice/Existing", "", "alice/existing2", None])
def test_delete_without_the_exact_id_sends_nothing(spaces: SpaceManager, fake_hub: FakeHub, store: Store,
                                                   typed) -> None:
    with pytest.raises(HubActionError) as caught:
        spaces.delete("alice/existing", confirm=typed)
    assert caught.value.kind == HubErrorKind.NOT_CONFIRMED
    assert "Type the Space id 'alice/existing' exactly" in caught.value.message
    assert fake_hub.requests == [] and "alice/existing" in fake_hub.spaces
    assert (rows(store)[-1]["action"], rows(store)[-1]["outcome"]) == ("delete", "not_confirmed")


def test_delete_with_the_exact_id_deletes(spaces: SpaceManager, fake_hub: FakeHub, store: Store) -> None:
    spaces.delete("alice/existing", confirm="alice/existing")
    assert fake_hub.last("DELETE", "/api/repos/delete").json() == {"name": "existing", "organization": "alice",
                                                                   "type": "space"}
    assert "alice/existing" not in fake_hub.spaces
    assert (rows(store)[-1]["action"], rows(store)[-1]["outcome"]) == ("delete", "ok")


# --------------------------------------------------------------------------- listing and recording


def test_my_spaces_list_shows_stage_and_hardware_and_is_never_stale(spaces: SpaceManager,
                                                                    fake_hub: FakeHub) -> None:
    before = spaces.list_my_spaces()
    assert [(s["id"], s["stage"], s["hardware"], s["private"]) for s in before] == [
        ("alice/existing", "RUNNING", "cpu-basic", True)]
    sent = fake_hub.last("GET", "/api/spaces")
    assert sent.param("author") == "alice" and "runtime" in sent.query["expand"]

    spaces.create_space("alice/second", sdk="gradio")
    assert {s["id"] for s in spaces.list_my_spaces()} == {"alice/existing", "alice/second"}
    assert len(fake_hub.requests_to("GET", "/api/whoami-v2")) == 1      # asked once per manager


def test_every_request_carries_the_token_and_no_row_holds_it(spaces: SpaceManager, fake_hub: FakeHub,
                                                             store: Store) -> None:
    spaces.create_space("flow")
    spaces.set_secret("alice/flow", "HF_TOKEN", TOKEN)          # a user storing their token as a secret
    with pytest.raises(HubActionError):
        spaces.restart("alice/ghost")
    spaces.delete("alice/flow", confirm="alice/flow")

    assert fake_hub.requests and all(r.authorization == f"Bearer {TOKEN}" for r in fake_hub.requests)
    assert len(rows(store)) == 5
    assert_no_secret_in_rows(store, TOKEN)


def test_a_failing_recorder_does_not_undo_the_action(fake_hub: FakeHub, caplog: pytest.LogCaptureFixture) -> None:
    class BrokenStore:
        def record_space_action(self, **kwargs) -> None:
            raise RuntimeError("disk full")

    manager = SpaceManager(fake_hub.url, TOKEN, store=BrokenStore(), session=SESSION)
    with caplog.at_level(logging.WARNING, logger="core.hub.spaces"):
        assert manager.pause("alice/existing").stage == "PAUSED"
    assert "could not record space action pause" in caplog.text


def test_token_goes_to_the_hub_client_not_the_manager(fake_hub: FakeHub) -> None:
    with pytest.raises(ValueError, match="Pass the token to the HubClient"):
        SpaceManager(HubClient(fake_hub.url, TOKEN), TOKEN)
