"""The strict file-block format the build agent asks a model to answer in, and its defensive parser.

    === FILE: app.py ===
    import streamlit as st
    === END FILE ===

A file starts at a `=== FILE: <path> ===` line and ends at the next `=== END FILE ===` line; everything
in between is its content, kept byte for byte (plus a final newline). Prose outside blocks is ignored,
because models add it anyway. Everything else is refused with a `FileFormatError` that names the line:
a block left open, a stray END, a malformed marker, a duplicate, an unsafe path (absolute, `..`,
`.git`, odd characters), too many or too large files. `parse_files` never raises anything else.

    files = parse_files(render_files({"app.py": "print('hi')\\n"}))   # {'app.py': "print('hi')\\n"}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from core.errors import BuildError

MAX_FILES = 20
MAX_FILE_CHARS = 100_000
MAX_TOTAL_CHARS = 400_000
MAX_TEXT_CHARS = 1_000_000          # a whole answer; beyond this we do not even look
MAX_PATH_CHARS = 120
MAX_PATH_DEPTH = 4

_OPEN = re.compile(r"===\s*FILE:\s*(?P<path>\S(?:.*\S)?)\s*===", re.IGNORECASE)
_CLOSE = re.compile(r"===\s*END\s+FILE(?::\s*(?P<path>\S(?:.*\S)?))?\s*===", re.IGNORECASE)
_MARKER_LIKE = re.compile(r"===\s*(END\s+)?FILE\b", re.IGNORECASE)
_PATH_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
_DOTFILES = frozenset({".streamlit", ".gitignore", ".gitattributes", ".dockerignore"})
_FENCE = re.compile(r"\s*(```|~~~)")


class FileFormatError(BuildError, ValueError):
    """The answer is not in the file-block format; `line` is 1-based (None when not about one line)."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line else message)


def check_path(path: object, line: int | None = None) -> str:
    """Return `path` if it is a safe relative POSIX path inside a Space, else raise FileFormatError."""
    if not isinstance(path, str) or not path:
        raise FileFormatError("a file path is empty", line)
    shown = path[:60].encode("unicode_escape").decode("ascii")
    if len(path) > MAX_PATH_CHARS:
        raise FileFormatError(f"the path '{shown}…' is longer than {MAX_PATH_CHARS} characters", line)
    if path.startswith("/") or "\\" in path or re.match(r"[A-Za-z]:", path):
        raise FileFormatError(f"the path '{shown}' is absolute; use a relative path like 'app.py'", line)
    parts = path.split("/")
    if ".." in parts:
        raise FileFormatError(f"the path '{shown}' climbs out of the Space with '..'", line)
    if len(parts) > MAX_PATH_DEPTH:
        raise FileFormatError(f"the path '{shown}' is nested deeper than {MAX_PATH_DEPTH} folders", line)
    for part in parts:
        if part == ".git" or (not _PATH_PART.fullmatch(part) and part not in _DOTFILES):
            raise FileFormatError(f"the path '{shown}' is not allowed: use letters, digits, '_', '-', '.' and '/'",
                                  line)
    return path


def render_files(files: Mapping[str, str]) -> str:
    """The file-block text for `files` (path → text); `parse_files` reads it back.

    Raises FileFormatError for a path `check_path` refuses or content that holds a marker line."""
    if len(files) > MAX_FILES:
        raise FileFormatError(f"{len(files)} files is more than the {MAX_FILES} allowed")
    blocks = []
    for path, content in files.items():
        check_path(path)
        if not isinstance(content, str):
            raise FileFormatError(f"the content of '{path}' is not text")
        if any(_is_marker(line) for line in content.split("\n")):
            raise FileFormatError(f"'{path}' contains a line that looks like a FILE marker")
        body = content if content.endswith("\n") or not content else content + "\n"
        lines = body.split("\n")[:-1]
        if _unfenced(path, lines) != "\n".join(lines) + ("\n" if lines else ""):
            fence = lines[-1].strip()        # a fenced whole would lose its fence: wrap it in one more
            body = f"{fence}\n{body}{fence}\n"
        blocks.append(f"=== FILE: {path} ===\n{body}=== END FILE ===\n")
    return "\n".join(blocks)


def parse_files(text: object) -> dict[str, str]:
    """Read file blocks from a model's answer: path → content. Raises FileFormatError on anything malformed."""
    if not isinstance(text, str):
        raise FileFormatError("the answer is not text")
    if len(text) > MAX_TEXT_CHARS:
        raise FileFormatError(f"the answer is longer than {MAX_TEXT_CHARS:,} characters")
    files: dict[str, str] = {}
    current: str | None = None
    opened_at = 0
    body: list[str] = []
    total = 0
    for number, raw in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        line = raw.strip()
        opening, closing = _OPEN.fullmatch(line), _CLOSE.fullmatch(line)
        if current is None:
            if opening:
                current, opened_at, body = _new_file(opening.group("path"), files, number), number, []
            elif closing:
                raise FileFormatError("`=== END FILE ===` without an open `=== FILE: path ===` block", number)
            elif _MARKER_LIKE.match(line):
                raise FileFormatError(f"malformed marker '{_shown(line)}': write `=== FILE: path ===` "
                                      "or `=== END FILE ===`", number)
            continue                                   # prose between blocks is ignored
        if closing:
            if closing.group("path") not in (None, current):
                raise FileFormatError(f"END FILE names '{_shown(closing.group('path'))}' but the open file is "
                                      f"'{current}' (line {opened_at})", number)
            content = _unfenced(current, body)
            if len(content) > MAX_FILE_CHARS:
                raise FileFormatError(f"'{current}' is longer than {MAX_FILE_CHARS:,} characters", opened_at)
            total += len(content)
            if total > MAX_TOTAL_CHARS:
                raise FileFormatError(f"the files together are longer than {MAX_TOTAL_CHARS:,} characters", number)
            files[current] = content
            current = None
        elif opening or _MARKER_LIKE.match(line):
            raise FileFormatError(f"a marker appears inside '{current}' (opened at line {opened_at}); close it "
                                  "with `=== END FILE ===` first", number)
        else:
            body.append(raw)
    if current is not None:
        raise FileFormatError(f"'{current}' (opened at line {opened_at}) is never closed with `=== END FILE ===`; "
                              "the answer may have been cut off", opened_at)
    if not files:
        raise FileFormatError("no `=== FILE: path ===` block was found", 1)
    return files


def write_files(root: str | Path, files: Mapping[str, str]) -> list[Path]:
    """Write `files` under the directory `root` (created if needed); every path is checked to stay inside."""
    base = Path(root).resolve()
    base.mkdir(parents=True, exist_ok=True)
    written = []
    for path, content in files.items():
        target = (base / check_path(path)).resolve()
        if base not in target.parents:
            raise FileFormatError(f"'{path}' is outside the target directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
        written.append(target)
    return written


def _new_file(path: str, files: Mapping[str, str], line: int) -> str:
    check_path(path, line)
    if path in files:
        raise FileFormatError(f"'{path}' appears twice", line)
    if len(files) >= MAX_FILES:
        raise FileFormatError(f"more than {MAX_FILES} files", line)
    return path


def _unfenced(path: str, body: list[str]) -> str:
    """The content, without one Markdown code fence around the whole of it (models add them); kept in .md."""
    lines = list(body)
    if (not path.endswith(".md") and len(lines) >= 2 and _FENCE.match(lines[0])
            and lines[-1].strip() in ("```", "~~~") and lines[0].strip()[:3] == lines[-1].strip()):
        lines = lines[1:-1]
    return "\n".join(lines) + "\n" if lines else ""


def _is_marker(line: str) -> bool:
    return bool(_MARKER_LIKE.match(line.strip()))


def _shown(text: str, limit: int = 60) -> str:
    flat = text.encode("unicode_escape").decode("ascii")
    return flat if len(flat) <= limit else flat[:limit] + "…"
