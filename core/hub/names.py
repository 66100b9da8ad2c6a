"""Hub repo and Space ids, checked before anything is sent.

The Hub's naming rules (moon-landing `Names.ts`, mirrored by `huggingface_hub.utils.validate_repo_id`):
an id is `owner/name`; each part is 1–96 ASCII letters, digits, `-`, `_` or `.`, does not start or end
with `-` or `.`, holds no `--` or `..`, and the name does not end in `.git`.
"""

from __future__ import annotations

import re
from typing import Literal

from core.errors import HubError

RepoKind = Literal["space", "model", "dataset"]

MAX_PART_LENGTH = 96
_ALLOWED = re.compile(r"[A-Za-z0-9._-]+")
_KIND_URL_PREFIX = {"space": "spaces/", "dataset": "datasets/", "model": ""}
_KIND_LABEL = {"space": "Space", "dataset": "Dataset", "model": "Model"}


class InvalidRepoIdError(HubError, ValueError):
    """An id breaks a Hub naming rule; the message names the rule in plain words."""

    def __init__(self, message: str, *, value: object = None, rule: str = ""):
        self.value = value
        self.rule = rule
        super().__init__(message)


def validate_repo_id(value: object, *, kind: RepoKind = "space", default_owner: str | None = None) -> str:
    """Return `value` as a normalised `owner/name`, or raise `InvalidRepoIdError` naming the broken rule.

    Accepts `owner/name`, a bare `name` when `default_owner` is given, and pasted Hub URLs
    (`https://huggingface.co/spaces/owner/name`, `hf://spaces/owner/name`).

    >>> validate_repo_id("  alice/my-app ")
    'alice/my-app'
    """
    if kind not in _KIND_LABEL:
        raise InvalidRepoIdError(f"Unknown repo kind {kind!r}: use space, model or dataset.", value=value,
                                 rule="kind")
    label = _KIND_LABEL[kind]
    if not isinstance(value, str):
        raise InvalidRepoIdError(f"The {label} id must be text like 'owner/name'.", value=value, rule="type")
    text = _strip_url(value.strip(), kind)
    if not text:
        raise InvalidRepoIdError(f"Enter a {label} id like 'owner/name'.", value=value, rule="empty")
    parts = text.split("/")
    if len(parts) == 1:
        if default_owner is None:
            raise InvalidRepoIdError(
                f"The {label} id '{_shown(text)}' needs an owner: write it as 'owner/name'.",
                value=value, rule="owner_missing")
        parts = [default_owner, parts[0]]
    if len(parts) != 2:
        raise InvalidRepoIdError(
            f"The {label} id '{_shown(text)}' must have exactly one '/', as in 'owner/name'.",
            value=value, rule="shape")
    owner, name = parts
    _check_part(owner, f"{label} owner", value)
    _check_part(name, f"{label} name", value)
    if name.lower().endswith(".git"):
        raise InvalidRepoIdError(f"The {label} name '{_shown(name)}' can't end with '.git'.", value=value,
                                 rule="git_suffix")
    return f"{owner}/{name}"


def validate_repo_name(value: object, *, kind: RepoKind = "space") -> str:
    """Check the name part alone (the owner is added later); return it stripped."""
    if not isinstance(value, str):
        raise InvalidRepoIdError("The name must be text.", value=value, rule="type")
    return validate_repo_id(value.strip(), kind=kind, default_owner="owner").split("/", 1)[1]


def hub_page_url(endpoint: str, repo_id: str, *, kind: RepoKind = "space") -> str:
    """The Hub web page of a repo: `hub_page_url("https://huggingface.co", "a/b")` → `.../spaces/a/b`."""
    return f"{endpoint.rstrip('/')}/{_KIND_URL_PREFIX[kind]}{repo_id}"


def _check_part(part: str, what: str, value: object) -> None:
    if not part:
        raise InvalidRepoIdError(f"The {what} is empty.", value=value, rule="empty_part")
    if len(part) > MAX_PART_LENGTH:
        raise InvalidRepoIdError(f"The {what} is {len(part)} characters long; the Hub allows at most "
                                 f"{MAX_PART_LENGTH}.", value=value, rule="too_long")
    if not _ALLOWED.fullmatch(part):
        bad = sorted({c for c in part if not _ALLOWED.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad[:5])
        raise InvalidRepoIdError(
            f"The {what} '{_shown(part)}' may only use letters, digits, '-', '_' and '.' (found {shown}).",
            value=value, rule="characters")
    if part[0] in "-." or part[-1] in "-.":
        raise InvalidRepoIdError(f"The {what} '{_shown(part)}' can't start or end with '-' or '.'.", value=value,
                                 rule="edge")
    if "--" in part or ".." in part:
        raise InvalidRepoIdError(f"The {what} '{_shown(part)}' can't contain '--' or '..'.", value=value,
                                 rule="double")


def _strip_url(text: str, kind: RepoKind) -> str:
    """Reduce a pasted Hub URL or hf:// URI to `owner/name`; leave anything else alone."""
    lowered = text.lower()
    if lowered.startswith("hf://"):
        path = text[len("hf://"):]
    elif lowered.startswith(("https://", "http://")):
        path = text.split("://", 1)[1].partition("/")[2]
    else:
        return text
    segments = [s for s in path.split("?", 1)[0].split("#", 1)[0].split("/") if s]
    url_kind: RepoKind = "model"
    if segments and segments[0] in ("spaces", "datasets", "models"):
        url_kind = {"spaces": "space", "datasets": "dataset", "models": "model"}[segments[0]]
        segments = segments[1:]
    if url_kind != kind:
        raise InvalidRepoIdError(
            f"'{_shown(text)}' points to a {_KIND_LABEL[url_kind]}, not a {_KIND_LABEL[kind]}.",
            value=text, rule="kind_mismatch")
    return "/".join(segments[:2])


def _shown(text: str, limit: int = 60) -> str:
    """Echo user input safely: bounded length, control characters made visible."""
    cleaned = "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text)
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
