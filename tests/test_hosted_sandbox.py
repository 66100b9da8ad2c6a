"""The preview sandbox holds (issue 13, item 9), with real subprocesses: a file that shadows Streamlit is
refused before anything runs; the app sees neither the console's environment (not in its own, not through
/proc) nor its loopback services; it hits a process limit; a `setsid()` escapee does not survive the stop.

The apps here run the way a Gradio app is launched (`python app.py`, through `launch_plan("gradio")`), which
does not need Gradio installed. An app that exits early leaves what it printed in `log_tail`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

from core.build.preview import launch_plan, no_isolation, preview_app, run_plan, sandbox_isolation
from core.demo.builds import render_template

ROOT = Path(__file__).resolve().parents[1]
PLAN = {"title": "Sandbox test", "summary": "A test app.", "model": "org/model", "provider": "auto"}
SENTINEL = "sentinel-hf_SANDBOXleak0000000000000000"

SERVE = """
import http.server, os
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
http.server.HTTPServer(("127.0.0.1", int(os.environ["GRADIO_SERVER_PORT"])), Ok).serve_forever()
"""


def run_python_app(source: str, **options):
    return run_plan({"app.py": source}, launch_plan("gradio"), "gradio", **options)


def processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if stat[0] != "Z" and token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except (OSError, IndexError):
                continue
    return found


def test_a_generated_streamlit_py_is_refused_before_anything_runs(tmp_path):
    ran = tmp_path / "shadow-ran"
    files = render_template("streamlit-sentiment", PLAN)
    files["streamlit.py"] = f"open({str(ran)!r}, 'w').write('the shadow ran')\n"
    result = preview_app(files, "docker-streamlit")
    assert result.status == "failed"
    assert "streamlit.py" in result.reason and "instead of the module 'streamlit'" in result.reason
    assert not ran.exists()


def test_the_app_sees_no_sentinel_from_the_console_environment():
    app = f"""
import os
sentinel = {SENTINEL!r}
leaks = [k for k, v in os.environ.items() if sentinel in v]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            if sentinel.encode() in open(f"/proc/{{pid}}/environ", "rb").read():
                leaks.append(pid)
        except OSError:
            pass
print("LEAKS", leaks, "parent", os.getppid(), flush=True)
"""
    # The console: a process whose environment (the one /proc/<pid>/environ shows) holds the sentinel.
    console = (f"import json, sys; sys.path.insert(0, {str(ROOT)!r})\n"
               "from core.build.preview import launch_plan, run_plan\n"
               f"r = run_plan({{'app.py': {app!r}}}, launch_plan('gradio'), 'gradio')\n"
               "print(json.dumps(r.to_dict()))\n")
    done = subprocess.run([sys.executable, "-c", console], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HF_TOKEN": SENTINEL, "SPACES_OS_SENTINEL": SENTINEL})
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert "LEAKS [] parent" in result["log_tail"], result["log_tail"]


def test_an_app_that_forks_without_end_hits_the_process_limit():
    app = """
import os, time
started = 0
try:
    for _ in range(600):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        started += 1
    print("NO LIMIT after", started, flush=True)
except OSError as err:
    print("LIMIT after", started, type(err).__name__, flush=True)
"""
    result = run_python_app(app)
    assert "LIMIT after" in result.log_tail and "NO LIMIT" not in result.log_tail, result.log_tail


def setsid_app(token: str) -> str:
    return f"""
import os, sys, time
child = os.fork()
if child == 0:
    os.setsid()
    os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(120)", {token!r}])
while {token!r}.encode() not in open(f"/proc/{{child}}/cmdline", "rb").read():
    time.sleep(0.02)
print("escapee", child, "in session", os.getsid(child), flush=True)
""" + SERVE


def test_a_setsid_escapee_does_not_survive_the_stop():
    token = f"escapee-{uuid.uuid4().hex}"
    result = run_python_app(setsid_app(token))
    assert result.ok, (result.reason, result.log_tail)
    assert processes_with(token) == []


def test_without_namespaces_a_setsid_escapee_is_still_found_and_killed():
    token = f"escapee-{uuid.uuid4().hex}"
    result = run_python_app(setsid_app(token), isolation=no_isolation())
    assert result.ok, (result.reason, result.log_tail)
    assert processes_with(token) == []
    assert not result.network_isolated and "network isolation is turned off" in result.reason


def test_the_app_cannot_reach_a_loopback_service_of_the_console():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    app = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
    print("CONNECTED", flush=True)
except OSError as err:
    print("BLOCKED", type(err).__name__, flush=True)
"""
    try:
        result = run_python_app(app)
    finally:
        listener.close()
    if sandbox_isolation().namespaces:
        assert result.network_isolated
        assert "BLOCKED" in result.log_tail and "CONNECTED" not in result.log_tail, result.log_tail
    else:
        assert not result.network_isolated and "network isolation is not available" in result.reason


def test_preview_stays_off_on_a_hosted_console_unless_the_operator_opts_in():
    files = render_template("static-page", PLAN)
    assert preview_app(files, "static", hosted=True).status == "skipped"
    assert preview_app(files, "static", hosted=True, enabled=None).status == "skipped"
    assert preview_app(files, "static", hosted=True, enabled=True).ok
