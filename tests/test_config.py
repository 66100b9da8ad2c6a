"""Config loading: the user's two shapes, interpolation, ordering, fixes and clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import ConfigError
from core.llm.config import find_config_path, load_config
from core.llm.providers.openrouter import OpenRouterProvider

SHARED = Path(__file__).resolve().parents[2] / "shared" / "design"
SHAPES = [SHARED / "agentic-config.shape1.yaml", SHARED / "agentic-config.shape2.yaml"]
needs_shared = pytest.mark.skipif(not SHAPES[0].exists(), reason="../shared/design is not beside the checkout")


def write(tmp_path: Path, text: str, name: str = "agentic-config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@needs_shared
def test_shape1_loads_unchanged_with_env_keys_and_fixes_openrouter_url():
    env = {"HF_TOKEN": "hf_shared", "OPENROUTER_KEY": "sk-or-shared", "SHEIKH_KEY": "sheikh-shared"}
    cfg = load_config(SHAPES[0], env=env)
    names = [p.name for p in cfg.providers]
    assert names == ["openrouter", "huggingface", "sheikh", "custom_provider_x", "demo"]   # priority first
    orr = cfg.provider("openrouter")
    assert orr.kind == "openrouter" and orr.base_url == OpenRouterProvider.default_base_url
    assert orr.api_key == "sk-or-shared"
    assert any("api.openrouter.ai" in w for w in cfg.warnings)
    assert cfg.provider("huggingface").api_key == "hf_shared"
    assert cfg.mcp_url == "https://huggingface.co/mcp"
    sheikh = cfg.provider("sheikh")
    assert sheikh.kind == "openai_compatible" and sheikh.base_url == "https://api.sheikh.codes/v1/chat/completions"
    custom = cfg.provider("custom_provider_x")
    assert custom.api_key is None and custom.base_url == "https://custom.provider/api/v1/infer"


@needs_shared
def test_shape2_loads_unchanged_and_unset_variables_mean_no_shared_key():
    cfg = load_config(SHAPES[1], env={})
    assert [p.name for p in cfg.providers] == ["openrouter", "huggingface", "sheikh", "demo"]
    assert all(p.api_key is None for p in cfg.providers)
    assert cfg.provider("openrouter").base_url == OpenRouterProvider.default_base_url


@needs_shared
def test_agentic_config_env_var_takes_precedence_over_cwd_file(tmp_path):
    write(tmp_path, "local:\n  url: http://127.0.0.1:9/v1\n  api_key: x\n")
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    shutil.copy(SHAPES[1], elsewhere / "cfg.yaml")
    assert find_config_path({"AGENTIC_CONFIG": str(elsewhere / "cfg.yaml")}, tmp_path) == elsewhere / "cfg.yaml"
    assert find_config_path({}, tmp_path) == tmp_path / "agentic-config.yaml"


def test_lookup_order_yaml_then_yml_then_json_then_environment(tmp_path):
    assert find_config_path({}, tmp_path) is None
    write(tmp_path, "{}", "agentic-config.json")
    assert find_config_path({}, tmp_path).name == "agentic-config.json"
    write(tmp_path, "{}", "agentic-config.yml")
    assert find_config_path({}, tmp_path).name == "agentic-config.yml"
    cfg = load_config(None, env={"HF_TOKEN": "hf_env", "OPENROUTER_API_KEY": "sk-or-env"}, cwd=tmp_path / "none")
    assert cfg.source == "environment"
    assert {p.name: p.api_key for p in cfg.providers} == {"huggingface": "hf_env", "openrouter": "sk-or-env",
                                                          "demo": None}


def test_openrouter_key_alias_from_environment():
    cfg = load_config(None, env={"OPENROUTER_KEY": "sk-or-alias"}, cwd="/nonexistent")
    assert cfg.provider("openrouter").api_key == "sk-or-alias"


def test_interpolation_with_default_and_missing(tmp_path):
    path = write(tmp_path, "a:\n  url: ${A_URL:-http://127.0.0.1:1234/v1}\n  api_key: ${A_KEY}\n"
                           "  models: [\"${MODEL:-m1}\"]\n")
    cfg = load_config(path, env={})
    a = cfg.provider("a")
    assert a.base_url == "http://127.0.0.1:1234/v1/chat/completions" and a.api_key is None and a.models == ["m1"]
    cfg = load_config(path, env={"A_KEY": "secret", "A_URL": "https://x.example/v1"})
    assert cfg.provider("a").api_key == "secret" and cfg.provider("a").base_url.startswith("https://x.example")


def test_integer_priority_ranks_and_true_comes_first(tmp_path):
    path = write(tmp_path, "p:\n  url: http://h/v1\n  priority: 2\nq:\n  url: http://h/v1\n"
                           "r:\n  url: http://h/v1\n  priority: true\ns:\n  url: http://h/v1\n  priority: 1\n")
    assert [p.name for p in load_config(path, env={}).providers] == ["r", "s", "p", "q", "demo"]


def test_malformed_yaml_names_file_and_line(tmp_path):
    path = write(tmp_path, "openrouter:\n  api_key: x\n  url: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert str(path) in str(info.value) and info.value.line is not None and "line" in str(info.value)


def test_wrong_field_type_names_key_path_and_line(tmp_path):
    path = write(tmp_path, "providers:\n  sheikh:\n    url: https://a.example/v1\n    priority: high\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.path == "providers.sheikh.priority" and info.value.line == 4
    assert "line 4" in str(info.value) and "`providers.sheikh.priority`" in str(info.value)


def test_non_http_url_is_rejected(tmp_path):
    path = write(tmp_path, "x:\n  url: ftp://files.example/v1\n  api_key: k\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.path == "x.url" and "http(s)" in str(info.value)


def test_unknown_provider_without_url_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "mystery:\n  api_key: k\n"), env={})
    assert "needs a `url`" in str(info.value)


def test_timeout_must_be_positive_and_bool_is_not_a_number(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "x:\n  url: http://h/v1\n  timeout: true\n"), env={})
    assert info.value.path == "x.timeout"


def test_json_config_error_has_line(tmp_path):
    path = write(tmp_path, '{\n "a": {"url": "http://h/v1",}\n}', "agentic-config.json")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.line == 2


def test_json_config_loads(tmp_path):
    path = write(tmp_path, json.dumps({"providers": {"a": {"url": "http://h/v1", "api_key": "k"}}}),
                 "agentic-config.json")
    assert load_config(path, env={}).provider("a").api_key == "k"


def test_masked_view_hides_shared_keys():
    cfg = load_config({"openrouter": {"api_key": "sk-or-v1-abcdefgh12345678"}}, env={})
    shown = json.dumps(cfg.masked())
    assert "abcdefgh1234" not in shown and "5678" in shown


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.text(max_size=300))
def test_fuzzed_yaml_ends_in_config_or_clear_error(tmp_path, text):
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        cfg = load_config(path, env={})
    except ConfigError as e:
        assert str(path) in str(e)
    else:
        assert any(p.kind == "demo" for p in cfg.providers)
