"""Documented limits are enforced (issue 13, item 8): YAML a user or visitor supplies is read by a bounded
loader (no MemoryError from a YAML bomb, no RecursionError from deep nesting, no oversize file), a push over
`hosted.max_upload_bytes` is refused in core and on the Spaces page, and hosted dry-run builds are bounded
per run and per visitor."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.agent.rules import RulesError, parse_rules_text
from core.app.views.build import session_agent
from core.app.views.spaces import HubToken
from core.build.agent import DryRunLimits, validate_files
from core.errors import ConfigError
from core.hub.client import HubClient
from core.hub.errors import HubActionError, HubErrorKind
from core.hub.spaces import SpaceManager
from core.llm.config import load_config
from core.llm.router import Router
from core.store import Store
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeSpace

# 9 anchors, each aliasing the previous one 9 times: 9**9 (387 million) strings once expanded.
BOMB = "\n".join(
    [f'a0: &a0 [{",".join(["lol"] * 9)}]']
    + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
) + "\n"
RULES = Path(__file__).resolve().parents[1] / "data" / "routing.yaml"
APP = str(Path(__file__).resolve().parents[1] / "Home.py")
LIMIT = 100_000


def test_the_yaml_bomb_is_small():
    assert len(BOMB) <= 525


def test_a_yaml_bomb_in_the_provider_config_is_a_clear_config_error(tmp_path):
    path = tmp_path / "agentic-config.yaml"
    path.write_text("openrouter:\n  api_key: x\n" + BOMB)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    text = str(caught.value)
    assert "YAML bomb" in text and "aliases" in text and str(path) in text


def test_a_yaml_bomb_in_the_routing_rules_is_a_clear_rules_error():
    with pytest.raises(RulesError, match="YAML bomb"):
        parse_rules_text(RULES.read_text() + BOMB)


def test_a_yaml_bomb_in_generated_front_matter_is_a_validation_problem():
    readme = "---\n" + BOMB + "sdk: static\n---\n# hi\n"
    problems = validate_files({"README.md": readme, "index.html": "<p>hi</p>\n"}, "static")
    assert any("front matter" in p and "YAML bomb" in p for p in problems)


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path):
    path = tmp_path / "agentic-config.yaml"
    path.write_text("openrouter: &me\n  models: [*me]\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(path, env={})


@pytest.mark.parametrize("nested", ["[" * 3000 + "]" * 3000, "".join(f"{'  ' * i}k{i}:\n" for i in range(200))
                                    + "  " * 200 + "v\n"])
def test_deep_nesting_is_a_clear_error_not_a_recursion_error(tmp_path, nested):
    path = tmp_path / "agentic-config.yaml"
    path.write_text("openrouter:\n  extra: " + nested if nested.startswith("[") else nested)
    with pytest.raises(ConfigError, match="nested more than 50 levels deep"):
        load_config(path, env={})
    with pytest.raises(RulesError, match="nested more than 50 levels deep"):
        parse_rules_text(nested)


def test_deep_json_config_is_a_clear_error(tmp_path):
    path = tmp_path / "agentic-config.json"
    path.write_text('{"openrouter": {"x": ' + "[" * 100_000 + "]" * 100_000 + "}}")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(path, env={})


def test_oversize_rules_text_is_refused_before_it_is_parsed():
    text = RULES.read_text() + "# padding\n" * 20_000
    with pytest.raises(RulesError, match="the limit is 65,536"):
        parse_rules_text(text)


def test_the_shipped_rules_and_both_config_shapes_still_load():
    assert parse_rules_text(RULES.read_text()).labels["QUICK"].tiers
    design = Path("/work/shared/design")
    for shape in ("agentic-config.shape1.yaml", "agentic-config.shape2.yaml"):
        if (design / shape).exists():
            assert "openrouter" in [p.name for p in load_config(design / shape, env={}).providers]


def test_line_numbers_are_kept_for_malformed_yaml(tmp_path):
    path = tmp_path / "agentic-config.yaml"
    path.write_text("openrouter:\n  url: [1, 2\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert "invalid YAML" in str(caught.value) and caught.value.line is not None



# --------------------------------------------------------------------------- uploads and pushes


@pytest.fixture
def hub(fake_hub: FakeHub) -> FakeHub:
    fake_hub.add_space(FakeSpace("alice/existing", sdk="docker", private=True, title="Existing",
                                 files={"README.md": b"---\nsdk: docker\n---\n"}))
    return fake_hub


def commits(hub: FakeHub) -> list:
    return hub.requests_to("POST", "/api/spaces/alice/existing/commit/main")


def test_a_push_over_max_upload_bytes_is_refused_in_core_before_anything_is_sent(hub, tmp_path):
    spaces = SpaceManager(HubClient(hub.url, SENTINEL_HF), store=Store(str(tmp_path / "db.sqlite")),
                          session="visitor", max_upload_bytes=LIMIT)
    with pytest.raises(HubActionError) as caught:
        spaces.push_files("alice/existing", {"app.py": "print(1)\n", "big.bin": b"\0" * 3_000_000}, "big")
    assert caught.value.kind == HubErrorKind.INVALID_INPUT
    assert "3.0 MB" in caught.value.message and "100 KB" in caught.value.message and "big.bin" in caught.value.message
    assert "Nothing was sent" in caught.value.hint
    assert commits(hub) == []
    assert spaces.push_files("alice/existing", {"app.py": "x" * (LIMIT - 10)}, "fits").oid   # at the limit: fine


def test_a_hosted_visitor_cannot_upload_past_the_limit_on_the_spaces_page(hub, monkeypatch, tmp_path):
    (tmp_path / "agentic-config.yaml").write_text(f"huggingface: {{}}\nhosted:\n  enabled: true\n  max_upload_bytes: {LIMIT}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=30).run()
        at.session_state["keys"] = {"huggingface": SENTINEL_HF}      # the visitor's own token
        at.session_state["spaces_tab"] = "My Spaces"
        at.switch_page("pages/spaces.py").run()
        assert not at.exception, at.exception
        at.file_uploader(key="files_upload").set_value(("big.bin", b"\0" * 3_000_000, "application/octet-stream"))
        at.text_input(key="commit_message").input("Upload a big file")
        at.button(key="files_push").click().run()
        assert not at.exception, at.exception
        shown = "\n".join(e.value for e in at.error)
        assert "at most 100 KB per push" in shown and "Nothing was sent" in shown
        assert commits(hub) == []
    finally:
        st.cache_resource.clear()


# --------------------------------------------------------------------------- hosted dry runs


def dry_run_agent(db_path: str, builds: Path, session: str, **limits):
    store = Store(db_path)
    router = Router.from_config({}, db=store, env={})
    state: dict = {}
    agent = session_agent(state, router=router, store=store, endpoint="http://127.0.0.1:9", token=HubToken(None, "none"),
                          keys={}, session=session, hosted=True, builds_dir=builds, max_upload_bytes=LIMIT)
    if limits:
        agent.dry_run_limits = DryRunLimits(**limits).within(LIMIT)
    return agent


def test_a_hosted_dry_run_is_bounded_per_run(db_path, tmp_path):
    agent = dry_run_agent(db_path, tmp_path / "builds", "visitor-a", max_files_per_run=2)
    state = agent.run(agent.start("a landing page for my bakery"))
    create = state.step("create")
    assert state.status == "failed" and create.status == "failed"
    assert "Dry run refused: the run has 3 files; a dry run here keeps at most 2" in create.error
    assert not (tmp_path / "builds").exists() or not any((tmp_path / "builds").rglob("*.html"))


def test_a_hosted_dry_run_takes_its_byte_limit_from_max_upload_bytes(db_path, tmp_path):
    agent = dry_run_agent(db_path, tmp_path / "builds", "visitor-a")
    assert agent.dry_run_limits.max_bytes_per_run == LIMIT


def test_hosted_dry_runs_are_bounded_per_visitor(db_path, tmp_path):
    builds = tmp_path / "builds"
    first = dry_run_agent(db_path, builds, "visitor-a", max_files_per_visitor=5)
    assert first.run(first.start("a landing page for my bakery")).status == "stopped"      # 3 files written
    again = first.run(first.start("a landing page for my bakery"))
    assert again.status == "failed" and "your dry runs already hold 3 files" in again.step("create").error
    other = dry_run_agent(db_path, builds, "visitor-b", max_files_per_visitor=5)
    assert other.run(other.start("a landing page for my bakery")).status == "stopped"     # another visitor's own


def test_a_hosted_agent_built_without_limits_is_still_bounded(db_path, tmp_path):
    from core.build.agent import BuildAgent
    store = Store(db_path)
    agent = BuildAgent(Router.from_config({}, db=store, env={}), None, None, store, session="v", hosted=True,
                       builds_dir=tmp_path / "builds")
    assert agent.dry_run_limits == DryRunLimits()
