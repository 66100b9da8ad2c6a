"""Sandboxed local preview of a generated app: start it, see it answer on 127.0.0.1, stop it.

The files go to a fresh temporary directory; the app runs in its own process group (its own session)
with CPU-time, address-space, file-size and core-dump limits, a minimal environment that carries no
key or token, and a wall-clock timeout. It must answer HTTP 200 (Streamlit's `/_stcore/health`, a
static page's `index.html`, Gradio's `/`). Whatever happens, the whole process group is killed and
waited for, and the directory removed, before `preview_app` returns.

    result = preview_app(files, "docker-streamlit")
    result.status      # ok | failed | skipped | unavailable
    result.reason      # plain words, shown to the operator

Gradio is not a dependency of Spaces OS: without it installed, a Gradio preview says so instead of
failing. On a hosted console (`hosted=True`) preview is off unless the operator enables it.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from core.build.file_format import write_files

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_CPU_SECONDS = 60
DEFAULT_MEMORY_MB = 2048        # address space: a Streamlit server peaks near 450 MB
MAX_WRITE_MB = 64
LOG_TAIL_CHARS = 2000
_ENV_PASSED = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")

# Process groups started and not yet reaped, so an interpreter exit still stops them.
_LIVE: dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()


@dataclass
class PreviewResult:
    status: str                       # ok | failed | skipped | unavailable
    reason: str
    sdk: str
    url: str | None = None
    http_status: int | None = None
    elapsed_s: float = 0.0
    pid: int | None = None            # the app's process (and group) id, gone by the time this is returned
    log_tail: str = ""
    command: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Limits:
    timeout_s: float = DEFAULT_TIMEOUT_S
    cpu_seconds: int = DEFAULT_CPU_SECONDS
    memory_mb: int = DEFAULT_MEMORY_MB


def preview_app(files: Mapping[str, str], sdk: str, *, hosted: bool = False, enabled: bool | None = None,
                limits: Limits = Limits(), app_file: str | None = None,
                on_started: Callable[[int], None] | None = None) -> PreviewResult:
    """Run `files` as a `sdk` app (docker-streamlit | static | gradio) until it answers 200, then stop it.

    `enabled=None` means on, except when `hosted`; `enabled=False` always skips. `on_started(pid)` is
    called once the process runs (tests use it to check the group is gone afterwards)."""
    if enabled is False:
        return PreviewResult("skipped", "Local preview is turned off for this build.", sdk)
    if hosted and not enabled:
        return PreviewResult("skipped", "Local preview is off on a hosted console (SPACE_ID is set): running "
                             "generated code next to the console is a risk. The operator can enable it with "
                             "`hosted.allow_preview: true`.", sdk)
    if sdk == "gradio" and importlib.util.find_spec("gradio") is None:
        return PreviewResult("unavailable", "Gradio is not installed here, so this Gradio app cannot be previewed "
                             "locally; the Space will build it with its own Gradio.", sdk)
    if sdk not in ("docker-streamlit", "static", "gradio"):
        return PreviewResult("failed", f"There is no local preview for the SDK '{sdk}'.", sdk)
    workdir = Path(tempfile.mkdtemp(prefix="spaces-os-preview-"))
    try:
        write_files(workdir, files)
        port = _free_port()
        command, health_path, env = _launch_plan(sdk, port, app_file or _default_app_file(sdk))
        if not (workdir / _served_file(sdk, app_file)).is_file():
            return PreviewResult("failed", f"'{_served_file(sdk, app_file)}' is missing, so there is nothing "
                                 "to preview.", sdk)
        return _run(command, workdir, env, f"http://127.0.0.1:{port}{health_path}", sdk, limits, on_started)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- launching


def _launch_plan(sdk: str, port: int, app_file: str) -> tuple[list[str], str, dict[str, str]]:
    env = {k: os.environ[k] for k in _ENV_PASSED if k in os.environ}
    env.update({"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                "HF_HUB_OFFLINE": "1"})
    if sdk == "docker-streamlit":
        env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
        return ([sys.executable, "-m", "streamlit", "run", app_file, "--server.port", str(port),
                 "--server.address", "127.0.0.1", "--server.headless", "true",
                 "--server.fileWatcherType", "none"], "/_stcore/health", env)
    if sdk == "static":
        return [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], f"/{app_file}", env
    env.update({"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False"})
    return [sys.executable, app_file], "/", env


def _default_app_file(sdk: str) -> str:
    return "index.html" if sdk == "static" else "app.py"


def _served_file(sdk: str, app_file: str | None) -> str:
    return app_file or _default_app_file(sdk)


def _limiter(limits: Limits) -> Callable[[], None]:
    """The child's preexec_fn: only setrlimit calls on values computed before fork."""
    memory = limits.memory_mb * 1024 * 1024
    cpu = max(1, int(limits.cpu_seconds))
    written = MAX_WRITE_MB * 1024 * 1024

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (written, written))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _run(command: list[str], workdir: Path, env: dict[str, str], url: str, sdk: str, limits: Limits,
         on_started: Callable[[int], None] | None) -> PreviewResult:
    env = {**env, "HOME": str(workdir), "TMPDIR": str(workdir)}
    log_path = workdir / ".preview.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_limiter(limits),
                                close_fds=True)
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    try:
        if on_started is not None:
            on_started(proc.pid)
        status, code, reason = _wait_until_answering(proc, url, started, limits.timeout_s)
    finally:
        stop_group(proc)
    elapsed = time.monotonic() - started
    tail = _tail(log_path)
    if status == "ok":
        reason = f"The app answered HTTP 200 at {url} after {elapsed:.1f} s, then was stopped."
    return PreviewResult(status, reason, sdk, url=url, http_status=code, elapsed_s=round(elapsed, 2),
                         pid=proc.pid, log_tail=tail if status != "ok" else "", command=command)


def _wait_until_answering(proc: subprocess.Popen, url: str, started: float,
                          timeout: float) -> tuple[str, int | None, str]:
    last: int | None = None
    with httpx.Client(trust_env=False, timeout=2.0, follow_redirects=False) as client:
        while True:
            if proc.poll() is not None:
                return "failed", last, f"The app exited with code {proc.returncode} before answering."
            try:
                last = client.get(url).status_code
                if last == 200:
                    return "ok", last, ""
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > timeout:
                answered = f" (last answer: HTTP {last})" if last else ""
                return "failed", last, f"The app did not answer HTTP 200 within {timeout:g} s{answered}."
            time.sleep(0.1)


def stop_group(proc: subprocess.Popen, grace_s: float = 3.0) -> None:
    """SIGTERM the app's whole process group, SIGKILL what is left after `grace_s`, reap the leader."""
    pgid = proc.pid                   # start_new_session: the app leads its own group
    try:
        _signal_group(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace_s)
        _signal_group(pgid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while group_alive(pgid) and time.monotonic() < deadline:   # children of the app, reaped by init
            _signal_group(pgid, signal.SIGKILL)
            time.sleep(0.05)
    finally:
        with _LIVE_LOCK:
            _LIVE.pop(proc.pid, None)


def group_alive(pgid: int) -> bool:
    """True while any process (zombies aside) is still in process group `pgid`."""
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    if not Path("/proc").is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    return False


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@atexit.register
def _stop_all() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE.values())
    for proc in live:
        stop_group(proc, grace_s=0.5)


# --------------------------------------------------------------------------- files and ports


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(path: Path) -> str:
    try:
        data = path.read_bytes()[-LOG_TAIL_CHARS:]
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")
