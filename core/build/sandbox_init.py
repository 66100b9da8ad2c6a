"""The first process of a preview sandbox: start the app confined, see it answer, stop it and all it started.

    python -I -B sandbox_init.py '{"command": [...], "port": 8501, "health_path": "/", ...}'

Run by `core.build.preview` (inside fresh PID, mount and network namespaces when `unshare` works, so it is
PID 1 there), with the standard library only: `-I` keeps the app's folder and the environment out of its
`sys.path`. It brings the namespace's loopback up, starts the app in the app's folder with the confinement
asked for (another uid, RLIMIT_NPROC, no new privileges), checks from inside that the app answers HTTP 200
on 127.0.0.1 and, when a `session` command is given, that it exits 0 (run confined the same way, with the
seconds left as its last argument: Streamlit's session of the script), then stops it: SIGTERM to the app's group, then SIGKILL to every process it can reach
(everything in the PID namespace; without one, every descendant, which come back to it as a subreaper).

It writes one JSON object a line on stdout: `started` (the PID namespace), `result` (status, HTTP status,
reason), `stopped`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import http.client
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_LIBC = ctypes.CDLL(None, use_errno=True)


def emit(**event: object) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def loopback_up() -> None:
    """A new network namespace has a loopback interface, down: bring it up (nothing else exists)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def confine(uid: int | None, gid: int | None, nproc: int | None):
    """The app's preexec_fn: drop to `uid`/`gid`, cap its processes, and forbid gaining privileges."""
    def apply() -> None:
        if gid is not None:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
        if uid is not None:
            os.setresuid(uid, uid, uid)
        if nproc:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        _LIBC.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return apply


def probe(app: subprocess.Popen, port: int, path: str, timeout: float) -> tuple[str, int | None, str]:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        if app.poll() is not None:
            return "failed", last, f"The app exited with code {app.returncode} before answering."
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            last = connection.getresponse().status
            connection.close()
            if last == 200:
                return "ok", last, ""
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            answered = f" (last answer: HTTP {last})" if last else ""
            return "failed", last, f"The app did not answer HTTP 200 within {timeout:g} s{answered}."
        time.sleep(0.1)


def run_session(spec: dict, left: float) -> tuple[str, str]:
    """Run the spec's `session` command confined like the app; ok when it exits 0 within `left` seconds."""
    left = max(left, 5.0)
    try:
        check = subprocess.Popen([*spec["session"], f"{left:.0f}"], cwd=spec["cwd"], env=spec["env"],
                                 stdin=subprocess.DEVNULL, stdout=2, stderr=2, close_fds=True, process_group=0,
                                 preexec_fn=confine(spec.get("uid"), spec.get("gid"), spec.get("nproc")))
    except OSError as err:
        return "failed", f"The app's session could not be started: {err}."
    try:
        code = check.wait(timeout=left + 5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(check.pid, signal.SIGKILL)      # the group the check leads (process_group=0 above)
        check.wait()
        return "failed", f"A session of the app did not finish within {left:.0f} s."
    if code != 0:
        return "failed", f"The server started, but the app's script failed when a session ran it (exit code {code})."
    return "ok", ""


def children() -> list[int]:
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[1] == me:
                found.append(int(entry))
    return found


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def stop(app: subprocess.Popen, grace: float, pid_namespace: bool) -> int:
    """Stop the app, then everything else it started; returns how many had to be killed after the app."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(app.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        app.wait(timeout=grace)
    killed = 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pid_namespace:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(-1, signal.SIGKILL)      # every process of this PID namespace but this one
        rest = children()
        for pid in rest:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        killed += len(rest)
        reap()
        if not rest and not children():
            break
        time.sleep(0.02)
    return killed


def main(spec: dict) -> int:
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)       # our parent (unshare or the console) died
    _LIBC.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)              # orphans of the app come back here
    if spec.get("loopback"):
        try:
            loopback_up()
        except OSError as err:
            emit(event="result", status="failed", http_status=None,
                 reason=f"The sandbox could not bring its loopback interface up ({errno.errorcode.get(err.errno)}).")
            return 1
    try:
        pid_ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_ns = None
    emit(event="started", pid_ns=pid_ns, pid=os.getpid())
    try:
        app = subprocess.Popen(spec["command"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
                               stdout=2, stderr=2, close_fds=True, process_group=0,
                               preexec_fn=confine(spec.get("uid"), spec.get("gid"), spec.get("nproc")))
    except OSError as err:
        emit(event="result", status="failed", http_status=None, reason=f"The app could not be started: {err}.")
        return 1
    deadline = time.monotonic() + spec["timeout_s"]
    status, code, reason = probe(app, spec["port"], spec["health_path"], spec["timeout_s"])
    if status == "ok" and spec.get("session"):
        status, reason = run_session(spec, deadline - time.monotonic())
    emit(event="result", status=status, http_status=code, reason=reason)
    killed = stop(app, spec.get("grace_s", 3.0), bool(spec.get("pid_namespace")))
    emit(event="stopped", killed_after_app=killed)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
