"""Sandboxed local preview of a generated app: start it, run it once, stop it.

    result = preview_app(files, "docker-streamlit", envs=PreviewEnvs(Path("data/preview-envs")))
    result.status      # ok | failed | skipped | unavailable
    result.reason      # plain words, shown to the operator (including what isolation was not available)
    result.log_tail    # the app's last output when it failed (a traceback's last lines)

What "previews ok" means: the app runs, not just its server.
- Streamlit: the server answers `/_stcore/health`, then a session runs the script once (Streamlit's
  AppTest, in the same sandbox and environment); an exception in the script fails the preview with its
  traceback in the log.
- Gradio: the app's own `python app.py` serves `/config` (the Blocks it built); static: the page is served.
- It runs in an environment built from the app's own requirements.txt (`core.build.preview_env`: a venv
  cached by the requirements' hash), where a package the app did not list is missing, as on the Space.

What the sandbox does (`sandbox_isolation()` says what this machine allows):
- Files that would shadow a module (`streamlit.py`, `os.py`, a `gradio/` folder…) are refused first.
- The interpreter is isolated (`python -I`): the app's folder is never first on `sys.path` (Streamlit adds it
  when it runs the script; Gradio apps get it last) and no `PYTHON*` variable is read. The environment is
  empty but for PATH, HOME and TMPDIR (the app's temporary folder), LANG and the SDK's own settings.
- When `unshare` works, the app runs in fresh PID, mount and network namespaces: it sees only its own
  processes in /proc (not the console's environment), reaches no network (its loopback is its own, so the
  console's local services are out of reach), and when the namespace's first process ends the kernel ends
  every process in it, `setsid()` escapees included. Without `unshare` the result says so.
- A console running as root runs the app as `nobody` when the interpreter is readable by others.
- Limits: CPU time, address space, file size, no core dumps, and RLIMIT_NPROC (its user's processes now,
  plus `Limits.max_processes`); with a writable pids cgroup, also a pids.max of its own.
- Its own session; at the end the whole process group is killed and the machine is checked for survivors
  (the PID namespace, the cgroup, or a marker in the environment), which are killed and counted.
- On a hosted console (`hosted=True`) preview is off unless the operator enables it (`hosted.allow_preview`).

Gradio is not a dependency of Spaces OS: without it installed, a Gradio preview says so instead of failing.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import json
import os
import queue
import re
import resource
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.build.file_format import write_files
from core.build.preview_env import PreviewEnvError, PreviewEnvs
from core.build.shadowing import shadowing_problems

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_CPU_SECONDS = 60
DEFAULT_MEMORY_MB = 2048        # address space: a Streamlit server peaks near 450 MB
DEFAULT_MAX_PROCESSES = 128     # processes and threads the app may add (a Streamlit server uses ~20 threads)
MAX_WRITE_MB = 64
LOG_TAIL_CHARS = 2000
NOBODY = 65534
SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
LAUNCHER = Path(__file__).with_name("sandbox_init.py")
DEFAULT_ENVS_DIR = Path(__file__).resolve().parents[2] / "data" / "preview-envs"
MARKER = "SPACES_OS_PREVIEW"    # in every sandboxed process's environment: how survivors are found without namespaces
_UNSHARE_FLAGS = ("--pid", "--fork", "--kill-child", "--mount-proc", "--net")
_PIDS_CGROUPS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
# A Gradio app as `python app.py`, with its folder last on sys.path instead of first.
_RUN_APP = ("import os, runpy, sys; sys.argv = sys.argv[1:]; sys.path.append(os.getcwd()); "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
# One Streamlit session of the script (argv: app file, seconds it may take); exit 1 with the traceback
# when the script raised.
_RUN_SESSION = """
import os, sys
from streamlit.testing.v1 import AppTest
app = AppTest.from_file(os.path.abspath(sys.argv[1]), default_timeout=float(sys.argv[2]))
app.run()
if app.exception:
    for shown in app.exception:
        print("".join(line if line.endswith(chr(10)) else line + chr(10) for line in shown.stack_trace), end="",
              file=sys.stderr)
        print(shown.message, file=sys.stderr, flush=True)
    print(f"A session of {sys.argv[1]} raised an exception.", file=sys.stderr, flush=True)
    sys.exit(1)
print(f"A session ran {sys.argv[1]} to the end without an error.", flush=True)
"""
_GRADIO_VERSION = re.compile(r"^sdk_version:\s*[\"']?([0-9][0-9A-Za-z.]*)[\"']?\s*$", re.MULTILINE)

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
    pid: int | None = None            # the sandbox's first process (and group) id, gone by the time this is returned
    log_tail: str = ""
    command: list[str] = field(default_factory=list)
    isolation: list[str] = field(default_factory=list)     # what held, e.g. "network namespace", "uid 65534"
    network_isolated: bool = False
    survivors_killed: int = 0         # processes found alive after the group was killed (then killed)

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
    max_processes: int = DEFAULT_MAX_PROCESSES


@dataclass(frozen=True)
class LaunchPlan:
    """How an SDK's app is started: the command (run in the app's folder), its port, its health path, its env,
    and `session`: a command run once the app answers (with the seconds left appended), which must exit 0."""

    command: list[str]
    port: int
    health_path: str
    env: dict[str, str]
    session: list[str] | None = None


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the sandbox do; `missing` says in plain words what it cannot."""

    unshare: tuple[str, ...] = ()          # the unshare command prefix; () when namespaces are unavailable
    run_as: tuple[int, int] | None = None  # (uid, gid) the app runs as, when the console is root
    pids_cgroup: Path | None = None        # a pids controller we may create groups in
    missing: tuple[str, ...] = ()

    @property
    def namespaces(self) -> bool:
        return bool(self.unshare)


def preview_app(files: Mapping[str, str], sdk: str, *, hosted: bool = False, enabled: bool | None = None,
                limits: Limits = Limits(), app_file: str | None = None,
                on_started: Callable[[int], None] | None = None, isolation: Isolation | None = None,
                envs: PreviewEnvs | None = None) -> PreviewResult:
    """Run `files` as a `sdk` app (docker-streamlit | static | gradio) until it answers 200 and (Streamlit)
    a session ran it, then stop it.

    `enabled=None` means on, except when `hosted`; `enabled=False` always skips. `on_started(pid)` is
    called once the sandbox runs (tests use it to check the group is gone afterwards). `isolation` defaults
    to `sandbox_isolation()`; `envs` (where the app's environment is built) to `data/preview-envs`."""
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
    served = app_file or _default_app_file(sdk)
    if served not in files:
        return PreviewResult("failed", f"'{served}' is missing, so there is nothing to preview.", sdk)
    shadowing = shadowing_problems(files)
    if shadowing:                     # before anything is installed for it, too
        return PreviewResult("failed", "Not previewed: " + "; ".join(shadowing) + ".", sdk)
    python = None
    if sdk != "static":
        try:
            python = str(_environment(files, sdk, envs or PreviewEnvs(DEFAULT_ENVS_DIR)).python)
        except PreviewEnvError as err:
            return PreviewResult("failed", f"{err.reason} The app was not started.", sdk, log_tail=err.log)
    return run_plan(files, launch_plan(sdk, served, python=python), sdk, limits=limits, on_started=on_started,
                    isolation=isolation)


def _environment(files: Mapping[str, str], sdk: str, envs: PreviewEnvs):
    """The app's environment: its requirements.txt, plus the Gradio its README pins (as a Gradio Space does)."""
    extra: tuple[str, ...] = ()
    if sdk == "gradio":
        pinned = _GRADIO_VERSION.search(files.get("README.md", ""))
        extra = (f"gradio=={pinned.group(1)}",) if pinned else ("gradio",)
    return envs.ensure(files.get("requirements.txt", ""), extra)


def run_plan(files: Mapping[str, str], plan: LaunchPlan, sdk: str, *, limits: Limits = Limits(),
             on_started: Callable[[int], None] | None = None, isolation: Isolation | None = None) -> PreviewResult:
    """Write `files` to a fresh temporary folder and run `plan` there in the sandbox (see the module doc).
    Files that would shadow a module are refused before anything runs."""
    shadowing = shadowing_problems(files)
    if shadowing:
        return PreviewResult("failed", "Not previewed: " + "; ".join(shadowing) + ".", sdk)
    isolation = sandbox_isolation() if isolation is None else isolation
    workdir = Path(tempfile.mkdtemp(prefix="spaces-os-preview-"))
    try:
        write_files(workdir, files)
        if isolation.run_as:
            _give(workdir, *isolation.run_as)
        return _run(plan, workdir, sdk, limits, on_started, isolation)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- what the machine allows


@functools.cache
def sandbox_isolation() -> Isolation:
    """Probe once: can we unshare PID, mount and network namespaces, drop root, make a pids cgroup?"""
    missing = []
    root = os.geteuid() == 0
    run_as = (NOBODY, NOBODY) if root and _readable_by_others(sys.executable, sys.base_prefix, sys.prefix) else None
    if root and run_as is None:
        missing.append("the app runs as the console's root user (in a user namespace when available, so without "
                       "its capabilities): the Python interpreter is not readable by an unprivileged user")
    unshare = shutil.which("unshare")
    prefix: tuple[str, ...] = ()
    if unshare:
        user = () if run_as else ("--user", "--map-root-user")   # without a uid to drop to, no host capabilities
        candidate = (unshare, *user, *_UNSHARE_FLAGS)
        try:
            probe = subprocess.run([*candidate, "true"], capture_output=True, timeout=10, env={"PATH": SAFE_PATH})
            prefix = candidate if probe.returncode == 0 else ()
        except (OSError, subprocess.TimeoutExpired):
            prefix = ()
    if not prefix:
        missing.append("network isolation is not available here (`unshare` of PID and network namespaces "
                       "failed), so the app can reach the network and local services")
    return Isolation(prefix, run_as, _pids_cgroup() if root else None, tuple(missing))


def no_isolation() -> Isolation:
    """What the sandbox does without namespaces or a cgroup (tests use it to check that path)."""
    base = sandbox_isolation()
    return Isolation((), base.run_as, None, ("network isolation is turned off for this preview, so the app can "
                                             "reach the network and local services",))


def _readable_by_others(*paths: str) -> bool:
    for path in paths:
        current = Path(path).resolve()
        for folder in [*reversed(current.parents), current]:
            mode = folder.stat().st_mode
            if not mode & (stat.S_IXOTH if folder.is_dir() else stat.S_IROTH):
                return False
    return True


def _pids_cgroup() -> Path | None:
    for base in _PIDS_CGROUPS:
        if not (base / "cgroup.procs").exists():
            continue
        probe = base / f"spaces-os-probe-{os.getpid()}"
        try:
            probe.mkdir()
            usable = (probe / "pids.max").exists()
            probe.rmdir()
        except OSError:
            continue
        if usable:
            return base
    return None


# --------------------------------------------------------------------------- launching


def launch_plan(sdk: str, app_file: str | None = None, port: int | None = None,
                python: str | None = None) -> LaunchPlan:
    """The command, port and environment a `sdk` app starts with (always `python -I`, the app environment's
    `python` when given)."""
    port = port or _free_port()
    app_file = app_file or _default_app_file(sdk)
    env = {"HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_OFFLINE": "1"}
    python = [python or sys.executable, "-I", "-B", "-u"]
    if sdk == "docker-streamlit":
        env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
        return LaunchPlan([*python, "-m", "streamlit", "run", app_file, "--server.port", str(port),
                           "--server.address", "127.0.0.1", "--server.headless", "true",
                           "--server.fileWatcherType", "none"], port, "/_stcore/health", env,
                          session=[*python, "-c", _RUN_SESSION, app_file])
    if sdk == "static":
        return LaunchPlan([*python, "-m", "http.server", str(port), "--bind", "127.0.0.1"], port, f"/{app_file}", env)
    env.update({"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False"})
    return LaunchPlan([*python, "-c", _RUN_APP, app_file], port, "/config", env)


def _default_app_file(sdk: str) -> str:
    return "index.html" if sdk == "static" else "app.py"


def _limiter(limits: Limits, cgroup: Path | None = None) -> Callable[[], None]:
    """The sandbox's preexec_fn: setrlimit calls on values computed before fork, and joining its cgroup."""
    memory = limits.memory_mb * 1024 * 1024
    cpu = max(1, int(limits.cpu_seconds))
    written = MAX_WRITE_MB * 1024 * 1024
    procs = str(cgroup / "cgroup.procs") if cgroup else None

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_FSIZE, (written, written))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if procs:
            fd = os.open(procs, os.O_WRONLY)
            os.write(fd, b"0")
            os.close(fd)

    return apply


def _run(plan: LaunchPlan, workdir: Path, sdk: str, limits: Limits, on_started: Callable[[int], None] | None,
         isolation: Isolation) -> PreviewResult:
    marker = secrets.token_hex(8)
    env = {"PATH": SAFE_PATH, "HOME": str(workdir), "TMPDIR": str(workdir), "LANG": "C.UTF-8", MARKER: marker,
           **plan.env}
    uid, gid = isolation.run_as or (None, None)
    spec = {"command": plan.command, "cwd": str(workdir), "env": env, "port": plan.port,
            "health_path": plan.health_path, "session": plan.session, "timeout_s": limits.timeout_s,
            "uid": uid, "gid": gid,
            "nproc": _tasks_of(uid if uid is not None else os.geteuid()) + limits.max_processes,
            "loopback": isolation.namespaces, "pid_namespace": isolation.namespaces, "grace_s": 3.0}
    command = [*isolation.unshare, *(["--"] if isolation.unshare else []), sys.executable, "-I", "-B",
               str(LAUNCHER), json.dumps(spec)]
    cgroup = _new_cgroup(isolation.pids_cgroup, limits.max_processes + 8)
    url = f"http://127.0.0.1:{plan.port}{plan.health_path}"
    log_path = workdir / ".preview.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=workdir, env={"PATH": SAFE_PATH, "LANG": "C.UTF-8", MARKER: marker},
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True, preexec_fn=_limiter(limits, cgroup), close_fds=True)
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    events = _events(proc)
    found: dict[str, Any] = {}
    try:
        if on_started is not None:
            on_started(proc.pid)
        found = _until(events, "result", limits.timeout_s + 30)
        found.update(_until(events, "stopped", 20))
    finally:
        stop_group(proc)
        # The launcher's PID namespace identifies the sandbox only when it is not ours (no unshare: it is ours).
        pid_ns = found.get("pid_ns") if isolation.namespaces and found.get("pid_ns") != _own_pid_namespace() else None
        survivors = _kill_survivors(cgroup, pid_ns, marker)
    elapsed = time.monotonic() - started
    status = found.get("status") or "failed"
    reason = found.get("reason") or "The sandbox ended before the app answered."
    if status == "ok":
        ran = " and a session ran it without an error" if plan.session else ""
        reason = (f"The app answered HTTP 200 at {url}{ran} (inside its sandbox) after {elapsed:.1f} s, "
                  "then was stopped.")
    if isolation.missing:
        reason += " Note: " + "; ".join(isolation.missing) + "."
    held = [name for name, on in (("PID namespace", isolation.namespaces), ("network namespace", isolation.namespaces),
                                  (f"uid {uid}", uid is not None), ("pids cgroup", cgroup is not None)) if on]
    return PreviewResult(status, reason, sdk, url=url, http_status=found.get("http_status"),
                         elapsed_s=round(elapsed, 2), pid=proc.pid,
                         log_tail=_tail(log_path) if status != "ok" else "", command=plan.command,
                         isolation=["python -I", "empty environment", "own session",
                                    *(["RLIMIT_NPROC"] if (uid if uid is not None else os.geteuid()) else []), *held],
                         network_isolated=isolation.namespaces, survivors_killed=survivors)


def _events(proc: subprocess.Popen) -> queue.Queue:
    """The launcher's JSON lines, read on a thread (so waiting for them has a deadline)."""
    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for raw in proc.stdout:
            with contextlib.suppress(ValueError):
                lines.put(json.loads(raw))
        lines.put(None)
        proc.stdout.close()

    threading.Thread(target=read, name=f"preview-{proc.pid}", daemon=True).start()
    return lines


def _until(events: queue.Queue, kind: str, timeout: float) -> dict[str, Any]:
    """Fields of the launcher's events up to the one of `kind` ({} of what came when it never does)."""
    found: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            break
        if event is None:
            break
        found.update({k: v for k, v in event.items() if k != "event"})
        if event.get("event") == kind:
            break
    return found


def _tasks_of(uid: int) -> int:
    """Processes and threads that `uid` runs now (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
            except OSError:
                continue
    return count


def _new_cgroup(base: Path | None, max_pids: int) -> Path | None:
    if base is None:
        return None
    group = base / f"spaces-os-preview-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        group.mkdir()
        (group / "pids.max").write_text(str(max_pids))
    except OSError:
        with contextlib.suppress(OSError):
            group.rmdir()
        return None
    return group


def _kill_survivors(cgroup: Path | None, pid_ns: str | None, marker: str) -> int:
    """After the group is gone: kill whatever the sandbox left (in its cgroup, its PID namespace, or carrying
    its marker) and wait until none is alive. Returns how many there were."""
    seen: set[int] = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = _sandbox_processes(cgroup, pid_ns, marker)
        if not alive:
            break
        seen.update(alive)
        for pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    if cgroup is not None:
        with contextlib.suppress(OSError):
            cgroup.rmdir()
    return len(seen)


def _own_pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _sandbox_processes(cgroup: Path | None, pid_ns: str | None, marker: str) -> list[int]:
    """Live (non-zombie) processes that belong to the sandbox."""
    needle = f"{MARKER}={marker}".encode()
    if pid_ns is not None and pid_ns == _own_pid_namespace():
        pid_ns = None                       # never mistake our own namespace for the sandbox's
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            in_cgroup = cgroup is not None and any(line.endswith(f"/{cgroup.name}")
                                                   for line in (entry / "cgroup").read_text().splitlines())
            in_namespace = bool(pid_ns) and os.readlink(entry / "ns" / "pid") == pid_ns
            if in_cgroup or in_namespace or needle in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except (OSError, IndexError):
            continue
    return found


def _give(folder: Path, uid: int, gid: int) -> None:
    """Hand the app's folder to the user it runs as (the log stays the console's)."""
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def stop_group(proc: subprocess.Popen, grace_s: float = 3.0) -> None:
    """SIGTERM the sandbox's whole process group, SIGKILL what is left after `grace_s`, reap the leader."""
    pgid = proc.pid                   # start_new_session: the sandbox leads its own group
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
