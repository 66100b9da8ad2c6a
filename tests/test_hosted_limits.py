"""Documented limits are enforced (issue 13, item 8): YAML a user or visitor supplies is read by a bounded
loader (no MemoryError from a YAML bomb, no RecursionError from deep nesting, no oversize file), a push over
`hosted.max_upload_bytes` is refused in core and on the Spaces page, and hosted dry-run builds are bounded
per run and per visitor."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.agent.rules import RulesError, parse_rules_text
from core.build.agent import validate_files
from core.errors import ConfigError
from core.llm.config import load_config

# 9 anchors, each aliasing the previous one 9 times: 9**9 (387 million) strings once expanded.
BOMB = "\n".join(
    [f'a0: &a0 [{",".join(["lol"] * 9)}]']
    + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
) + "\n"
RULES = Path(__file__).resolve().parents[1] / "data" / "routing.yaml"


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

