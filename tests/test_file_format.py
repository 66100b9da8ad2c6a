"""The strict file-block format: round trips, clear errors with line numbers, unsafe paths and limits
refused, and (fuzzed) any text at all ends in a dict or a FileFormatError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.build.file_format import (
    MAX_FILE_CHARS,
    MAX_FILES,
    FileFormatError,
    parse_files,
    render_files,
    write_files,
)

APP = "import streamlit as st\n\nst.title('hi')\n"


def test_rendered_files_parse_back_exactly():
    files = {"app.py": APP, "README.md": "---\nsdk: docker\n---\n# Hi\n", ".streamlit/config.toml": "[server]\n",
             "empty.txt": ""}
    assert parse_files(render_files(files)) == files


def test_prose_around_blocks_crlf_and_a_fence_inside_a_block_are_tolerated():
    answer = ("Sure! Here are your files:\r\n\r\n=== FILE: app.py ===\r\n```python\r\nprint('hi')\r\n```\r\n"
              "=== END FILE ===\r\nLet me know if you need anything else.")
    assert parse_files(answer) == {"app.py": "print('hi')\n"}


def test_a_fenced_markdown_file_keeps_its_fences():
    readme = "```\ncode\n```\n"
    assert parse_files(f"=== FILE: README.md ===\n{readme}=== END FILE ===") == {"README.md": readme}
    assert parse_files(render_files({"notes.txt": readme})) == {"notes.txt": readme}   # wrapped, not lost


@pytest.mark.parametrize(("text", "line", "words"), [
    ("no blocks at all", 1, "no `=== FILE"),
    ("=== FILE: app.py ===\nprint(1)\n", 1, "never closed"),
    ("intro\n=== END FILE ===\n", 2, "without an open"),
    ("=== FILE: a.py ===\nx\n=== FILE: b.py ===\n=== END FILE ===", 3, "inside 'a.py'"),
    ("=== FILE app.py ===\nx\n=== END FILE ===", 1, "malformed marker"),
    ("=== FILE: a.py ===\nx\n=== END FILE: b.py ===", 3, "names 'b.py'"),
    ("=== FILE: a.py ===\n=== END FILE ===\n=== FILE: a.py ===\n=== END FILE ===", 3, "twice"),
])
def test_malformed_answers_name_the_line(text, line, words):
    with pytest.raises(FileFormatError) as info:
        parse_files(text)
    assert info.value.line == line and words in str(info.value) and str(info.value).startswith(f"line {line}:")


@pytest.mark.parametrize("path", ["/etc/passwd", "../up.py", "a/../../b", "C:\\x.py", "a\\b.py", ".git/config",
                                  "a b.py", "", "x/" * 5 + "deep.py", "a" * 200, "sub/.hidden", "ü.py"])
def test_unsafe_or_odd_paths_are_refused(path, tmp_path):
    with pytest.raises(FileFormatError):
        parse_files(f"=== FILE: {path} ===\nx\n=== END FILE ===")
    with pytest.raises(FileFormatError):
        write_files(tmp_path, {path: "x"})
    assert list(tmp_path.iterdir()) == []


def test_too_many_and_too_large_files_are_refused():
    many = "".join(f"=== FILE: f{i}.txt ===\nx\n=== END FILE ===\n" for i in range(MAX_FILES + 1))
    with pytest.raises(FileFormatError, match="more than"):
        parse_files(many)
    with pytest.raises(FileFormatError, match="longer than"):
        parse_files("=== FILE: big.txt ===\n" + "x" * (MAX_FILE_CHARS + 1) + "\n=== END FILE ===")


def test_render_refuses_content_that_would_read_back_differently():
    with pytest.raises(FileFormatError, match="marker"):
        render_files({"a.txt": "before\n=== END FILE ===\nafter\n"})


def test_write_files_stays_inside_the_folder(tmp_path):
    write_files(tmp_path / "out", {"app.py": APP, ".streamlit/config.toml": "[server]\n"})
    assert (tmp_path / "out" / "app.py").read_text() == APP
    assert (tmp_path / "out" / ".streamlit" / "config.toml").is_file()


# --------------------------------------------------------------------------- fuzzing

MARKERISH = st.sampled_from([
    "=== FILE: app.py ===", "=== FILE: a/b.txt ===", "=== END FILE ===", "=== END FILE: app.py ===",
    "===FILE:x===", "=== file: README.md ===", "=== FILE: ../x ===", "=== FILE ===", "===", "```", "```python",
    "=== FILE: /abs ===", "  === END FILE ===  ", "=== END FILE: other ===", "", "\r", "=== FILE: \x00 ===",
])
LINES = st.lists(st.one_of(MARKERISH, st.text(max_size=30)), max_size=40).map("\n".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=400), LINES))
def test_fuzz_any_text_gives_files_or_a_format_error(text):
    try:
        files = parse_files(text)
    except FileFormatError as err:
        assert str(err)
        return
    assert isinstance(files, dict) and files
    assert all(isinstance(p, str) and isinstance(c, str) for p, c in files.items())
    assert all(not p.startswith("/") and ".." not in p.split("/") for p in files)


PATHS = st.builds(lambda folders, name: "/".join([*folders, name]),
                  st.lists(st.sampled_from(["src", "a-b", "x_1", ".streamlit"]), max_size=2),
                  st.sampled_from(["app.py", "README.md", "config.toml", "notes.txt", "index.html"]))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(PATHS, st.text(max_size=200), min_size=1, max_size=6))
def test_fuzz_render_then_parse_round_trips_or_refuses_cleanly(files):
    try:
        text = render_files(files)
    except FileFormatError:
        return        # content holding a marker line is refused up front
    expected = {p: (c if c.endswith("\n") or not c else c + "\n").replace("\r\n", "\n") for p, c in files.items()}
    assert parse_files(text) == expected
