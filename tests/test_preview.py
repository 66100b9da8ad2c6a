"""The sandboxed local preview really starts generated apps on 127.0.0.1, sees HTTP 200, stops them,
and leaves no process behind; its limits hold; Gradio without Gradio and hosted mode say why not."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.build.preview import Limits, _limiter, launch_plan, preview_app, run_plan, stop_group
from core.build.preview_env import PreviewEnvs
from core.demo.builds import render_template

PLAN = {"title": "Preview test", "summary": "A test app.", "model": "org/model", "provider": "auto"}


def processes_in_group(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid`, read straight from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def assert_gone(pid: int) -> None:
    assert processes_in_group(pid) == [], "a process of the preview's group is still alive"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def started_with_limits(seen: dict):
    def on_started(pid: int) -> None:
        seen["pid"] = pid
        seen["pgid"] = os.getpgid(pid)
        seen["limits"] = Path(f"/proc/{pid}/limits").read_text()
    return on_started


@pytest.mark.parametrize(("template", "sdk", "path"), [
    ("streamlit-sentiment", "docker-streamlit", "/_stcore/health"),
    ("static-page", "static", "/index.html"),
])
def test_generated_app_answers_200_then_is_stopped_with_nothing_left(template, sdk, path, tmp_path):
    seen: dict = {}
    result = preview_app(render_template(template, PLAN), sdk, limits=Limits(timeout_s=30, memory_mb=1536),
                         on_started=started_with_limits(seen), envs=PreviewEnvs(tmp_path, offline=True))
    assert result.ok, (result.reason, result.log_tail)
    assert result.http_status == 200 and result.url.startswith("http://127.0.0.1:") and result.url.endswith(path)
    assert seen["pgid"] == seen["pid"] == result.pid != os.getpgid(0)       # its own process group
    assert "Max address space         1610612736" in seen["limits"]
    assert "Max cpu time              60" in seen["limits"]
    assert_gone(result.pid)


def test_stop_group_kills_a_process_that_ignores_sigterm_and_its_children():
    script = ("import signal, subprocess, sys, time\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True, stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 5
    while len(processes_in_group(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(processes_in_group(proc.pid)) == 2
    stop_group(proc, grace_s=0.3)
    proc.stdout.close()
    assert_gone(proc.pid)


def test_cpu_and_memory_limits_stop_a_runaway_app():
    spin = subprocess.run([sys.executable, "-c", "while True: pass"], preexec_fn=_limiter(Limits(cpu_seconds=1)),
                          timeout=20)
    assert spin.returncode < 0          # killed by SIGXCPU / SIGKILL at the CPU limit
    hog = subprocess.run([sys.executable, "-c", "x = bytearray(800 * 1024 * 1024)"], capture_output=True,
                         preexec_fn=_limiter(Limits(memory_mb=400)), timeout=20)
    assert hog.returncode != 0 and b"MemoryError" in hog.stderr


def test_an_app_that_never_answers_fails_with_its_output_and_is_stopped(tmp_path):
    files = render_template("static-page", PLAN)
    del files["index.html"]
    assert preview_app(files, "static").status == "failed"           # nothing to serve
    seen: dict = {}
    # How a Gradio app is launched (`python app.py`), without needing gradio installed.
    result = run_plan({"app.py": "import time\nprint('starting slowly')\ntime.sleep(60)\n"}, launch_plan("gradio"),
                      "gradio", limits=Limits(timeout_s=1), on_started=started_with_limits(seen))
    assert result.status == "failed" and "within 1 s" in result.reason and "starting slowly" in result.log_tail
    assert_gone(seen["pid"])


@pytest.mark.skipif(importlib.util.find_spec("gradio") is not None, reason="gradio is installed here")
def test_gradio_preview_without_gradio_says_so_instead_of_failing():
    result = preview_app(render_template("gradio-sentiment", PLAN), "gradio")
    assert result.status == "unavailable" and "Gradio is not installed" in result.reason


def test_hosted_console_previews_only_when_enabled():
    files = render_template("static-page", PLAN)
    off = preview_app(files, "static", hosted=True)
    assert off.status == "skipped" and "hosted" in off.reason and "allow_preview" in off.reason
    assert preview_app(files, "static", hosted=True, enabled=True).ok
    assert preview_app(files, "static", enabled=False).status == "skipped"
