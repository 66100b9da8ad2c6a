"""Repo and Space ids are checked before anything is sent, with the broken rule named."""

from __future__ import annotations

import pytest
from huggingface_hub.utils import validate_repo_id as library_validate_repo_id
from hypothesis import given, settings
from hypothesis import strategies as st

from core.hub.names import InvalidRepoIdError, hub_page_url, validate_repo_id, validate_repo_name


@pytest.mark.parametrize(("value", "expected"), [
    ("alice/my-app", "alice/my-app"),
    ("  alice/my_app.v2  ", "alice/my_app.v2"),
    ("Org-1/A", "Org-1/A"),
    ("https://huggingface.co/spaces/alice/app", "alice/app"),
    ("https://huggingface.co/spaces/alice/app/blob/main/app.py?x=1", "alice/app"),
    ("hf://spaces/alice/app", "alice/app"),
    ("a/" + "n" * 96, "a/" + "n" * 96),
])
def test_valid_space_ids_are_normalised(value: str, expected: str) -> None:
    assert validate_repo_id(value) == expected


@pytest.mark.parametrize(("value", "rule", "words"), [
    ("", "empty", "Enter a Space id"),
    ("app", "owner_missing", "needs an owner"),
    ("a/b/c", "shape", "exactly one '/'"),
    ("/app", "empty_part", "owner is empty"),
    ("alice/", "empty_part", "name is empty"),
    ("alice/" + "n" * 97, "too_long", "at most 96"),
    ("alice/my app", "characters", "letters, digits"),
    ("alice/café", "characters", "'é'"),
    ("alice/-app", "edge", "start or end with '-' or '.'"),
    ("alice/app.", "edge", "start or end"),
    ("alice/my--app", "double", "'--' or '..'"),
    ("alice/my..app", "double", "'--' or '..'"),
    ("alice/app.git", "git_suffix", "'.git'"),
    ("https://huggingface.co/datasets/alice/data", "kind_mismatch", "points to a Dataset, not a Space"),
    ("https://huggingface.co/alice/model", "kind_mismatch", "points to a Model"),
])
def test_invalid_space_ids_name_the_rule(value: str, rule: str, words: str) -> None:
    with pytest.raises(InvalidRepoIdError) as caught:
        validate_repo_id(value)
    assert caught.value.rule == rule
    assert words in str(caught.value)


def test_bare_name_takes_the_default_owner_and_model_urls_need_no_prefix() -> None:
    assert validate_repo_id("app", default_owner="bob") == "bob/app"
    assert validate_repo_id("https://huggingface.co/openai-community/gpt2", kind="model") == "openai-community/gpt2"
    assert validate_repo_id("hf://datasets/openai/gsm8k", kind="dataset") == "openai/gsm8k"
    assert validate_repo_name(" my-app ") == "my-app"
    with pytest.raises(InvalidRepoIdError):
        validate_repo_name("my--app")


def test_non_text_is_a_value_error_not_a_type_error() -> None:
    for value in (None, 42, b"alice/app", ["alice/app"]):
        with pytest.raises(ValueError, match="must be text"):
            validate_repo_id(value)


def test_echoed_input_is_bounded_and_printable() -> None:
    with pytest.raises(InvalidRepoIdError) as caught:
        validate_repo_id("alice/\x1b[31m" + "x" * 300)
    assert "\x1b" not in str(caught.value) and len(str(caught.value)) < 200


def test_hub_page_url_per_kind() -> None:
    assert hub_page_url("http://127.0.0.1:9/", "a/b") == "http://127.0.0.1:9/spaces/a/b"
    assert hub_page_url("https://huggingface.co", "a/b", kind="dataset") == "https://huggingface.co/datasets/a/b"
    assert hub_page_url("https://huggingface.co", "a/b", kind="model") == "https://huggingface.co/a/b"


_ID_ALPHABET = st.sampled_from(list("abcXYZ019-_./ ") + ["--", "..", ".git", "é", "\n", "hf://spaces/", "https://h/"])


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=120), st.lists(_ID_ALPHABET, max_size=30).map("".join),
                 st.none(), st.integers(), st.binary(max_size=10)))
def test_any_input_is_a_valid_id_or_a_clear_value_error(value: object) -> None:
    try:
        result = validate_repo_id(value)
    except InvalidRepoIdError as exc:
        assert isinstance(exc, ValueError) and str(exc).strip()
        return
    owner, name = result.split("/")
    assert 1 <= len(owner) <= 96 and 1 <= len(name) <= 96
    library_validate_repo_id(result)     # the Hub client's own rules accept it too
    assert validate_repo_id(result) == result   # normalising is idempotent


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_]|[-.](?=[A-Za-z0-9_])){0,40}", fullmatch=True),
       st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_]|[-.](?=[A-Za-z0-9_])){0,40}", fullmatch=True))
def test_every_id_following_the_rules_is_accepted(owner: str, name: str) -> None:
    if name.lower().endswith(".git"):
        return
    assert validate_repo_id(f"{owner}/{name}") == f"{owner}/{name}"
