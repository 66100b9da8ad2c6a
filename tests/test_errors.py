"""One error tree under `SpacesOSError`: every exception class in core/ joins it, the tree drawn at the top of
core/errors.py is the real one, and every error kind has words for the user."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import re

import pytest

import core
import core.errors
from core.build.file_format import FileFormatError, parse_files
from core.build.workflow import Step, Workflow
from core.errors import PLAIN_WORDS, WHAT_TO_DO, BuildError, ErrorKind, HubError, SpacesOSError, ToolError
from core.hub.client import HubClient
from core.hub.errors import HUB_PLAIN_WORDS, HUB_WHAT_TO_DO, HubActionError, HubErrorKind
from core.hub.names import InvalidRepoIdError, validate_repo_id
from core.llm.netguard import BlockedURL, check_url
from core.store import Store
from core.tools.registry import ToolNotFoundError, ToolRegistry


def exception_classes_in_core() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module under core/, by `module.Name`.

    A name starting with `_` is a module's private signal: it is caught inside its module and never
    reaches a caller, so it is left out (e.g. core.llm.yaml_loader turns its `_LimitCrossed` into a
    ConfigError)."""
    found = {}
    for info in pkgutil.walk_packages(core.__path__, "core."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__ \
                    and not name.startswith("_"):
                found[f"{module.__name__}.{name}"] = obj
    return found


def drawn_tree() -> list[tuple[int, str, list[str], str]]:
    """(depth, class name, builtin bases in brackets, module) for each line of the tree in core/errors.py."""
    rows = []
    for line in core.errors.__doc__.splitlines():
        m = re.match(r"^    ((?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)(?: \(([\w, ]+)\))?\s{2,}.*?(core\.[\w.]+)?$", line)
        if m and (m.group(2) == "SpacesOSError" or "──" in line):
            depth = len(m.group(1)) // 4 + (1 if "──" in line else 0)
            also = [b.strip() for b in m.group(3).split(",")] if m.group(3) else []
            rows.append((depth, m.group(2), also, m.group(4) or "core.errors"))
    return rows


def test_every_exception_class_defined_in_core_is_a_spaces_os_error():
    classes = exception_classes_in_core()
    assert "core.hub.errors.HubActionError" in classes and "core.build.workflow.StopRun" in classes
    outside = sorted(name for name, cls in classes.items() if not issubclass(cls, SpacesOSError))
    assert outside == [], f"outside the SpacesOSError tree: {outside}"


def test_the_tree_drawn_in_core_errors_is_the_real_hierarchy_and_lists_every_class():
    rows = drawn_tree()
    assert rows[0][:2] == (0, "SpacesOSError")
    parents: list[type] = []
    drawn = set()
    for depth, name, also, module in rows:
        cls = getattr(importlib.import_module(module), name)
        del parents[depth:]
        if parents:
            assert parents[-1] in cls.__bases__, f"{name} is drawn under {parents[-1].__name__}"
        for builtin in also:
            assert issubclass(cls, getattr(builtins, builtin)), f"{name} is drawn as a {builtin}"
        parents.append(cls)
        drawn.add(f"{cls.__module__}.{cls.__name__}")
    assert set(exception_classes_in_core()) <= drawn, "a class is missing from the drawing"


def test_every_error_kind_has_plain_words_and_what_to_do():
    for kinds, words, advice in [(ErrorKind, PLAIN_WORDS, WHAT_TO_DO),
                                 (HubErrorKind, HUB_PLAIN_WORDS, HUB_WHAT_TO_DO)]:
        for kind in kinds:
            assert words.get(kind, "").strip(), f"{kind!r} has no plain words"
            assert advice.get(kind, "").strip(), f"{kind!r} has no what-to-do text"
        assert set(words) == set(kinds) and set(advice) == set(kinds)


def test_a_hub_error_raised_without_a_hint_still_says_what_to_do():
    with pytest.raises(HubActionError) as caught:
        HubClient("http://127.0.0.1:9", None).search_papers("   ")      # refused before anything is sent
    assert caught.value.kind == HubErrorKind.INVALID_INPUT
    assert str(caught.value) == f"Type something to search for. {HUB_WHAT_TO_DO[HubErrorKind.INVALID_INPUT]}"


def test_errors_that_joined_the_tree_are_still_caught_by_their_old_builtin_base():
    with pytest.raises(ValueError) as bad_id:
        validate_repo_id("alice/my--space")
    assert isinstance(bad_id.value, InvalidRepoIdError) and isinstance(bad_id.value, HubError)
    with pytest.raises(ValueError) as blocked:
        check_url("https://127.0.0.1/v1")
    assert isinstance(blocked.value, BlockedURL) and isinstance(blocked.value, SpacesOSError)
    with pytest.raises(ValueError) as malformed:
        parse_files("no file blocks here")
    assert isinstance(malformed.value, FileFormatError) and isinstance(malformed.value, BuildError)
    with pytest.raises(LookupError) as unknown:
        ToolRegistry().get("launch_rocket")
    assert isinstance(unknown.value, ToolNotFoundError) and isinstance(unknown.value, ToolError)


def test_a_build_step_failing_on_malformed_files_records_plain_words_without_the_class_name(db_path):
    def write(ctx):
        return parse_files("no file blocks here")

    flow = Workflow("build_space", [Step("write", "Write the files", write)], Store(db_path))
    state = flow.run(flow.create({}))
    assert state.status == "failed"
    assert state.step("write").error == "line 1: no `=== FILE: path ===` block was found"
