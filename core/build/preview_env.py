"""The Python environment a preview runs in: built from the app's own requirements.txt, cached by its hash.

    envs = PreviewEnvs(Path("data/preview-envs"))
    env = envs.ensure("streamlit>=1.40\\nhuggingface_hub>=0.30\\n")   # PreviewEnvError(reason, log) when pip fails
    env.python                                                        # …/data/preview-envs/<hash>/bin/python

How it is built (once per distinct requirements, then reused): `python -m venv --system-site-packages
--without-pip`, then `pip install --only-binary :all: -r requirements.txt` (wheels only, so no package's build
code runs on the console; `offline=True` adds `--no-index`, and `find_links` a folder of wheels). What the
machine already has satisfies a requirement without a download; anything else comes from PyPI.

Why system site-packages, and what keeps the console's packages out: the venv can see what the console
installed, so it is cheap and works offline. A guard (`_spaces_os_requirements_guard`, loaded by a `.pth`
file at interpreter start) then refuses to import any top-level module of an installed distribution that
is not in the closure of the app's requirements (their dependencies included, markers and extras
evaluated): an app that imports `plotly` without listing it fails with "No module named 'plotly'", as it
would on the Space. The standard library, pip and setuptools stay importable (a Space image has them).
The guard is about fidelity, not containment: the preview sandbox confines the app, and an app that
deletes the guard gains nothing but the console's packages.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from core.errors import BuildError

GUARD_VERSION = "1"                # part of the cache key: a changed guard rebuilds the environments
INSTALL_TIMEOUT_S = 900.0
LOG_TAIL_CHARS = 3000
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# Present in every Space image (python:3.11-slim), so an app may use them without listing them.
ALWAYS_ALLOWED = ("pip", "setuptools", "wheel")

# Run by the environment's own interpreter once pip is done: which top-level modules the app may import.
_CLOSURE = r"""
import importlib.metadata as md, json, os, sys
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

prefix = os.path.realpath(sys.prefix)
wanted = [Requirement(line) for line in json.load(sys.stdin)]
allowed, queue = set(), [(r, ()) for r in wanted] + [(Requirement(n), ()) for n in sys.argv[1:]]
while queue:
    requirement, _ = queue.pop()
    name = canonicalize_name(requirement.name)
    if name in allowed:
        continue
    try:
        dist = md.distribution(requirement.name)
    except md.PackageNotFoundError:
        continue
    allowed.add(name)
    for spec in dist.requires or []:
        child = Requirement(spec)
        extras = [""] + sorted(requirement.extras)
        if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in extras):
            queue.append((child, ()))

def top_levels(dist):
    text = dist.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}
    found = set()
    for path in dist.files or []:
        first = path.parts[0] if path.parts else ""
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".egg-info", ".data", ".pth")):
            continue
        if len(path.parts) == 1 and not first.endswith((".py", ".so", ".pyd")):
            continue
        found.add(first.split(".")[0])
    return found

permitted, refused = set(sys.stdlib_module_names), set()
for dist in md.distributions():
    name = canonicalize_name(dist.metadata["Name"] or "")
    mine = os.path.realpath(str(dist.locate_file(""))).startswith(prefix + os.sep)
    (permitted if name in allowed or mine else refused).update(top_levels(dist))
print(json.dumps(sorted(refused - permitted)))
"""

_GUARD = '''"""Written by Spaces OS into a preview environment: modules of packages the app did not list are missing."""
import sys

NOT_LISTED = frozenset({refused!r})


class RequirementsGuard:
    @staticmethod
    def find_spec(name, path=None, target=None):
        top = name.partition(".")[0]
        if top in NOT_LISTED:
            raise ModuleNotFoundError(f"No module named {{top!r}} (it is not in requirements.txt)", name=top)
        return None


sys.meta_path.insert(0, RequirementsGuard)
'''


class PreviewEnvError(BuildError):
    """The app's requirements could not be installed: `reason` in plain words, `log` pip's last output."""

    def __init__(self, reason: str, log: str = ""):
        self.reason = reason
        self.log = log
        super().__init__(reason)


@dataclass(frozen=True)
class PreviewEnv:
    folder: Path
    key: str
    reused: bool

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"


class PreviewEnvs:
    """A cache of preview environments under `root`, one folder per requirements hash (see the module doc)."""

    def __init__(self, root: str | Path, *, offline: bool = False, find_links: str | Path | None = None,
                 timeout_s: float = INSTALL_TIMEOUT_S, proxy_env: dict[str, str] | None = None):
        self.root = Path(root)
        self.offline = offline
        self.find_links = Path(find_links) if find_links else None
        self.timeout_s = timeout_s
        self.proxy_env = dict(proxy_env or {})      # e.g. HTTPS_PROXY, handed to pip only

    def key(self, requirements: str, extra: tuple[str, ...] = ()) -> str:
        """The cache key: the requirements (comments and blank lines aside, order kept), the extra
        requirements, the interpreter and the guard's version."""
        lines = [line.split("#", 1)[0].strip() for line in requirements.splitlines()]
        text = json.dumps({"requirements": [line for line in lines if line], "extra": list(extra),
                           "python": sys.version, "guard": GUARD_VERSION})
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def ensure(self, requirements: str, extra: tuple[str, ...] = ()) -> PreviewEnv:
        """The environment for `requirements` (plus `extra` lines, e.g. the harness's streamlit), built now
        unless a finished one is cached. Raises PreviewEnvError with pip's output when the install fails."""
        key = self.key(requirements, extra)
        folder = self.root / key
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        with open(self.root / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)        # one build per key; a second preview waits, then reuses it
            if (folder / ".ready").exists():
                return PreviewEnv(folder, key, reused=True)
            shutil.rmtree(folder, ignore_errors=True)     # a build cut off earlier
            try:
                self._build(folder, requirements, extra)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            (folder / ".ready").write_text(key)
        return PreviewEnv(folder, key, reused=False)

    def _build(self, folder: Path, requirements: str, extra: tuple[str, ...]) -> None:
        self._call([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(folder)],
                   "The preview environment could not be created")
        python = str(folder / "bin" / "python")
        listed = [line.split("#", 1)[0].strip() for line in requirements.splitlines()]
        wanted = [line for line in listed if line] + list(extra)
        (folder / "requirements.txt").write_text("\n".join(wanted) + "\n")
        if wanted:
            options = ["--no-index"] if self.offline else []
            options += ["--find-links", str(self.find_links)] if self.find_links else []
            self._call([python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                        "--only-binary", ":all:", *options, "-r", str(folder / "requirements.txt")],
                       "The app's requirements could not be installed")
        refused = json.loads(self._call([python, "-I", "-c", _CLOSURE, *ALWAYS_ALLOWED],
                                        "The preview environment could not be inspected",
                                        stdin=json.dumps(wanted)))
        site = Path(self._call([python, "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               "The preview environment could not be inspected").strip())
        (site / "_spaces_os_requirements_guard.py").write_text(_GUARD.format(refused=sorted(refused)))
        (site / "_spaces_os_requirements_guard.pth").write_text("import _spaces_os_requirements_guard\n")
        for path in [folder, *folder.rglob("*")]:       # the app may run as another user: readable by others
            with contextlib.suppress(OSError):
                if not path.is_symlink():
                    path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))

    def _call(self, command: list[str], what: str, stdin: str | None = None) -> str:
        env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "HOME": str(self.root), "PIP_NO_CACHE_DIR": "1",
               **self.proxy_env}
        try:
            done = subprocess.run(command, input=stdin, capture_output=True, text=True, env=env,
                                  timeout=self.timeout_s, stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise PreviewEnvError(f"{what}: it took longer than {self.timeout_s:g} s.") from None
        if done.returncode != 0:
            log = (done.stdout + done.stderr)[-LOG_TAIL_CHARS:]
            reason = next((line.strip() for line in reversed(log.splitlines()) if line.startswith("ERROR:")), "")
            raise PreviewEnvError(f"{what}" + (f": {reason}" if reason else "."), log)
        return done.stdout
