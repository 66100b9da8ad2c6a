"""Files of a generated app that would shadow a module: `streamlit.py`, `os.py`, a `gradio/` folder…

    shadowing_problems({"app.py": "...", "streamlit.py": "..."})
    # ["streamlit.py would be imported instead of the module 'streamlit' (...); rename it"]

A file at the top of the app's folder named like a module (or a top-level folder named like a package) is
imported instead of that module as soon as the folder is on `sys.path`, which Streamlit puts first when it
runs the app. So every top-level name of the standard library, of the installed distributions, of the
SDKs and of what `requirements.txt` lists is refused, for the local preview (it would run inside the sandbox's own Streamlit) and for the Space (it
would break the app there too).
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.metadata
import re
import sys
from collections.abc import Mapping

# Suffixes the import system loads from a folder on sys.path (.py, .pyc, .so, .cpython-311-…so, …).
_IMPORTABLE = tuple(sorted(set(importlib.machinery.all_suffixes()), key=len, reverse=True))
# What a Space app imports even where it is not installed here.
SDK_MODULES = frozenset({"streamlit", "gradio", "gradio_client", "huggingface_hub"})
_REQUIREMENT_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@functools.cache
def protected_modules() -> frozenset[str]:
    """Top-level module names an app must not shadow: the standard library and what is installed here."""
    installed = set(importlib.metadata.packages_distributions())
    return frozenset({*sys.stdlib_module_names, *sys.builtin_module_names, *installed} - {"__main__"})


def shadowed_module(path: str, also: frozenset[str] = frozenset()) -> str | None:
    """The module `path` (a relative POSIX path in the bundle) would shadow, or None. `also`: more names."""
    first, _, rest = path.partition("/")
    if rest:                                  # inside a top-level folder: the folder is the package
        name = first
    else:
        suffix = next((s for s in _IMPORTABLE if first.endswith(s)), None)
        if suffix is None:
            return None
        name = first[: -len(suffix)]
    return name if name in protected_modules() or name in also else None


def shadowing_problems(files: Mapping[str, str]) -> list[str]:
    """One plain sentence per file or folder of `files` (path → text) that would shadow a module."""
    also = SDK_MODULES | _required_modules(files.get("requirements.txt") or "")
    problems, seen = [], set()
    for path in files:
        name = shadowed_module(path, also)
        if name and name not in seen:
            seen.add(name)
            shown = path if "/" not in path else path.split("/", 1)[0] + "/"
            problems.append(f"{shown} would be imported instead of the module '{name}' (standard library, SDK "
                            "or a listed requirement); rename it")
    return problems


def _required_modules(requirements: str) -> frozenset[str]:
    """The usual import names of what requirements.txt lists ("scikit-learn" → "scikit_learn")."""
    names = set()
    for line in requirements.splitlines():
        found = _REQUIREMENT_NAME.match(line.split("#", 1)[0])
        if found and not line.lstrip().startswith("-"):
            names.add(found.group(1).lower().replace("-", "_").replace(".", "_"))
    return frozenset(names)
