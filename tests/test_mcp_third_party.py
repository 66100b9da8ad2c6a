"""Real third-party MCP software against our client and our server, on 127.0.0.1 only.

- `@modelcontextprotocol/server-everything` (the TypeScript reference server; it answers the SDK's
  `server/discover` probe with HTTP 400) drives our client over stdio and Streamable HTTP;
- the MCP Inspector's `--cli` mode drives our server over stdio and HTTP (with the bearer token);
- tests/mcp_test_server.py (the Python SDK) covers what server-everything cannot show: a JSON-RPC error to
  `tools/call`, and a tool that notices it was cancelled.

The npm packages come from tests/node (`npm ci` in .ci/run). Without them these tests skip, except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.app.mcp_server import server_paths
from core.llm.config import load_config
from core.tools.mcp_client import (
    CLOSE_GRACE,
    McpConnection,
    McpServerConfig,
    McpToolError,
    McpUnavailable,
    load_mcp_tools,
)
from core.tools.registry import ToolRegistry
from tests.conftest import SENTINEL_HF
from tests.fake_hub import FakeHub, FakeSpace
from tests.test_mcp import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
EVERYTHING = NODE_MODULES / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"
INSPECTOR = NODE_MODULES / "@modelcontextprotocol" / "inspector" / "cli" / "build" / "cli.js"
TEST_SERVER = ROOT / "tests" / "mcp_test_server.py"
SERVER_TOKEN = "inspector-test-token-0001"


def require_node_package(path: Path) -> Path:
    """`path`, or a skip (a failure under CI=true) saying how to install it."""
    if os.path.exists(path) and _node():
        return path
    missing = f"{path.relative_to(ROOT)} is missing (cd tests/node && npm ci --ignore-scripts)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"third-party MCP tests cannot run: {missing}")
    pytest.skip(f"third-party MCP tests skipped: {missing}")


def _node() -> str | None:
    from shutil import which
    return which("node")


# --------------------------------------------------------------------------- server-everything


@pytest.fixture(scope="module")
def everything_http(tmp_path_factory):
    """server-everything's Streamable HTTP mode on a free port; yields (url, its log file)."""
    require_node_package(EVERYTHING)
    port = free_port()
    log = tmp_path_factory.mktemp("everything") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["node", str(EVERYTHING), "streamableHttp"], env={**os.environ, "PORT": str(port)},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, timeout=30)
        yield f"http://127.0.0.1:{port}/mcp", log
    finally:
        stop(proc)


def everything_stdio(timeout: float = 10, *, wrapper: str | None = None) -> McpServerConfig:
    require_node_package(EVERYTHING)
    if wrapper:       # a shell that writes its pid, then becomes the server: a test can kill it mid-call
        return McpServerConfig("everything", None, timeout=timeout, command="sh",
                               args=("-c", f'echo $$ > "{wrapper}"; exec node "{EVERYTHING}" stdio'))
    return McpServerConfig("everything", None, timeout=timeout, command="node", args=(str(EVERYTHING), "stdio"))


def test_the_discovery_400_of_a_typescript_server_is_not_the_outcome_and_a_slow_call_is_a_timeout(everything_http):
    url, _ = everything_http
    connection = McpConnection(McpServerConfig("everything", url, timeout=1.5))

    assert connection.probe().available
    assert connection.call_tool("echo", {"message": "hi"}) == "Echo: hi"
    with pytest.raises(McpUnavailable) as slow:
        connection.call_tool("trigger-long-running-operation", {"duration": 6, "steps": 3})
    assert str(slow.value).startswith("everything: no answer within 1.5 s"), str(slow.value)
    assert "400" not in str(slow.value)


def test_a_timed_out_http_call_is_cancelled_and_its_session_closed(everything_http):
    url, log = everything_http
    before = log.read_bytes().count(b"Received session termination request")
    with pytest.raises(McpUnavailable, match="no answer within 1 s"):
        McpConnection(McpServerConfig("everything", url, timeout=1)).call_tool(
            "trigger-long-running-operation", {"duration": 5, "steps": 5})

    deadline = time.monotonic() + 5
    while log.read_bytes().count(b"Received session termination request") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_bytes().count(b"Received session termination request") == before + 1, \
        "the session must be ended (HTTP DELETE), not left open on the server"


def test_a_server_that_dies_mid_call_is_reported_as_stopping_not_as_http_400(tmp_path):
    require_node_package(EVERYTHING)
    port = free_port()
    proc = subprocess.Popen(["node", str(EVERYTHING), "streamableHttp"], env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for_port(port, timeout=30)
        threading.Timer(1.0, proc.kill).start()
        with pytest.raises(McpUnavailable) as died:
            McpConnection(McpServerConfig("everything", f"http://127.0.0.1:{port}/mcp", timeout=8)).call_tool(
                "trigger-long-running-operation", {"duration": 6, "steps": 2})
    finally:
        stop(proc)
    assert "400" not in str(died.value) and "no answer" not in str(died.value), str(died.value)
    assert "closed the connection" in str(died.value)


def test_our_client_uses_server_everything_over_stdio_with_its_content_and_progress():
    server = everything_stdio()
    toolset = load_mcp_tools([server])
    [status] = toolset.statuses
    assert status.available, status.reason
    assert {"echo", "get-resource-links", "trigger-long-running-operation"} <= set(status.tools)
    assert status.url.startswith("stdio: node ")
    registry = ToolRegistry()
    toolset.add_to(registry)
    assert registry.call("everything.echo", {"message": "over stdio"}) == "Echo: over stdio"

    connection = McpConnection(server)
    reference = connection.call_tool("get-resource-reference", {"resourceType": "Text", "resourceId": 2})
    assert "[resource demo://resource/dynamic/text/2]\nResource 2: This is a plaintext resource" in reference
    links = connection.call_tool("get-resource-links", {"count": 2})
    assert "[resource link: Blob Resource 1 <demo://resource/dynamic/blob/1>" in links
    assert "Text Resource 2 <demo://resource/dynamic/text/2>" in links
    image = connection.call_tool("get-tiny-image", {})
    assert "[image: image/png, " in image and "bytes, not shown to the model]" in image
    assert "omitted" not in reference + links + image

    heard = []
    connection = McpConnection(server, on_progress=heard.append)
    done = connection.call_tool("trigger-long-running-operation", {"duration": 0.6, "steps": 2})
    assert done.startswith("Long running operation completed") and done.endswith("[progress: 1/2, 2/2]")
    assert [(p.progress, p.total) for p in heard] == [(1, 2), (2, 2)]


def test_a_stdio_server_that_dies_or_cannot_start_says_so(tmp_path):
    pid_file = tmp_path / "pid"
    threading.Timer(1.5, lambda: os.kill(int(pid_file.read_text()), signal.SIGKILL)).start()
    with pytest.raises(McpUnavailable, match="everything: the server process exited") as died:
        McpConnection(everything_stdio(8, wrapper=str(pid_file))).call_tool(
            "trigger-long-running-operation", {"duration": 6, "steps": 2})
    assert "no answer" not in str(died.value)

    crashing = McpServerConfig("broken", None, timeout=5, command=sys.executable,
                               args=("-c", "import sys; sys.exit('missing module: notes_backend')"))
    assert McpConnection(crashing).probe().reason == \
        "broken: the server process exited; its last words on stderr: missing module: notes_backend"
    absent = McpServerConfig("absent", None, timeout=5, command=str(tmp_path / "no-such-program"))
    assert McpConnection(absent).probe().reason.startswith("absent: cannot start ")


# --------------------------------------------------------------------------- the Python SDK test server on stdio


def notebook(tmp_path: Path, timeout: float = 15) -> tuple[McpServerConfig, Path]:
    notes = tmp_path / "notes.txt"
    return McpServerConfig("notebook", None, timeout=timeout, command=sys.executable,
                           args=(str(TEST_SERVER), "--stdio", str(notes)), env={"NOTEBOOK_SECRET": SENTINEL_HF}), notes


def test_a_json_rpc_error_to_tools_call_keeps_the_servers_message_for_the_model(tmp_path):
    server, _ = notebook(tmp_path)
    connection = McpConnection(server)
    assert connection.call_tool("take_items", {"count": 2}) == {"result": "took 2"}
    with pytest.raises(McpToolError) as refused:
        connection.call_tool("take_items", {"count": -3})
    assert "count must be 0 or more, got -3" in str(refused.value)
    assert "JSON-RPC error -32602" in str(refused.value)


def test_a_timed_out_stdio_call_sends_notifications_cancelled(tmp_path):
    server, notes = notebook(tmp_path, timeout=6)     # a Python server takes a few seconds to start here
    started = time.monotonic()
    with pytest.raises(McpUnavailable, match="notebook: no answer within 6 s"):
        McpConnection(server).call_tool("wait", {"seconds": 60})
    assert time.monotonic() - started < 6 + CLOSE_GRACE + 1
    assert notes.exists() and notes.read_text() == "wait cancelled\n", "the server must hear the cancellation"


def test_stdio_servers_are_validated_in_the_config(tmp_path):
    config = load_config({"demo": {}, "mcp_servers": {
        "git": {"command": "uvx", "args": ["mcp-server-git", "--repository", "${REPO}", 3],
                "env": {"GIT_TOKEN": "${GIT_TOKEN}", "DEPTH": 2}, "timeout": 30}}},
        env={"REPO": "/srv/repo", "GIT_TOKEN": "s3cret"})
    [git] = config.mcp_servers
    assert (git.command, git.args, dict(git.env), git.timeout, git.url) == \
        ("uvx", ("mcp-server-git", "--repository", "/srv/repo", "3"), {"GIT_TOKEN": "s3cret", "DEPTH": "2"}, 30.0,
         None)
    assert "s3cret" not in repr(git) and git.target == "stdio: uvx mcp-server-git --repository /srv/repo 3"

    from core.errors import ConfigError
    for section, words in [({"command": "x", "url": "https://e.org/mcp"}, "a server has either a `url` or a"),
                           ({"command": "x", "token": "t"}, "`token` is for HTTP servers"),
                           ({"command": ""}, "must be the program to start"),
                           ({"command": "x", "args": "--flag"}, "must be a list of strings"),
                           ({"command": "x", "env": ["A=1"]}, "must be a mapping of variable names"),
                           ({"url": "https://e.org/mcp", "args": ["a"]}, "goes with a `command`")]:
        with pytest.raises(ConfigError, match=words):
            load_config({"demo": {}, "mcp_servers": {"local": section}}, env={})


# --------------------------------------------------------------------------- our server, from anywhere


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as server:
        server.add_token(SENTINEL_HF, user="alice")
        server.add_space(FakeSpace("alice/app", sdk="docker"))
        yield server


@pytest.fixture
def elsewhere(tmp_path, hub) -> tuple[Path, dict[str, str]]:
    """A folder outside the project holding a config and a DB, and an environment naming them."""
    config = tmp_path / "conf" / "agentic-config.yaml"
    config.parent.mkdir()
    config.write_text("demo: {}\n")
    cwd = tmp_path / "client-folder"
    cwd.mkdir()
    (cwd / "agentic-config.yaml").write_text("this: [is not the config\n")   # a stray file in the client's folder
    env = {k: v for k, v in os.environ.items() if k not in ("AGENTIC_CONFIG", "SPACES_OS_DB", "PYTHONPATH",
                                                             "SPACES_OS_MCP_TOKEN", "HF_TOKEN")}
    env |= {"AGENTIC_CONFIG": str(config), "SPACES_OS_DB": str(tmp_path / "db" / "spaces.db"),
            "HF_ENDPOINT": hub.url, "HF_TOKEN": SENTINEL_HF, "HF_HOME": str(tmp_path / "hf_home"),
            "HF_HUB_DISABLE_TELEMETRY": "1", "SPACES_OS_MCP_TOKEN": SERVER_TOKEN}
    (tmp_path / "db").mkdir()
    return cwd, env


def inspector(*args: str, cwd: Path, env: dict[str, str]) -> dict:
    require_node_package(INSPECTOR)
    done = subprocess.run(["node", str(INSPECTOR), "--cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    return json.loads(done.stdout)


def test_the_inspector_cli_lists_and_calls_our_server_over_stdio_started_from_another_folder(elsewhere):
    cwd, env = elsewhere
    launch = [sys.executable, str(ROOT / "core" / "app" / "mcp_server.py")]
    listed = inspector(*launch, "--method", "tools/list", cwd=cwd, env=env)

    tools = {t["name"]: t for t in listed["tools"]}
    assert {"search_models", "space_status", "route_chat", "delete_space"} <= set(tools)
    for tool in tools.values():
        assert tool.get("title"), f"{tool['name']} has no title"
        undescribed = [p for p, s in tool["inputSchema"].get("properties", {}).items() if not s.get("description")]
        assert not undescribed, f"{tool['name']}: parameters without a description: {undescribed}"
    assert tools["search_models"]["title"] == "Search models"

    called = inspector(*launch, "--method", "tools/call", "--tool-name", "space_status", "--tool-arg",
                       "space_id=alice/app", cwd=cwd, env=env)
    assert not called.get("isError") and called["structuredContent"]["result"]["stage"] == "RUNNING"
    assert not (cwd / "data").exists(), "nothing may be written in the client's folder"
    assert Path(env["SPACES_OS_DB"]).exists()


def test_the_inspector_cli_calls_our_http_server_with_the_bearer_token(elsewhere):
    cwd, env = elsewhere
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "core" / "app" / "mcp_server.py"), "--http", str(port)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        auth = ["--transport", "http", "--header", f"Authorization: Bearer {SERVER_TOKEN}"]
        listed = inspector(url, *auth, "--method", "tools/list", cwd=cwd, env=env)
        assert "search_spaces" in {t["name"] for t in listed["tools"]}
        called = inspector(url, *auth, "--method", "tools/call", "--tool-name", "search_models", "--tool-arg",
                           "query=llama", "--tool-arg", "limit=2", cwd=cwd, env=env)
        assert not called.get("isError") and called["structuredContent"]["ok"] is True
        require_node_package(INSPECTOR)
        refused = subprocess.run(["node", str(INSPECTOR), "--cli", url, "--transport", "http", "--method",
                                  "tools/list"], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0, "without the token the server must refuse"
    finally:
        stop(proc)


def test_our_server_says_which_config_and_database_it_uses_whatever_the_folder(elsewhere, tmp_path):
    cwd, env = elsewhere
    proc = subprocess.Popen([sys.executable, str(ROOT / "core" / "app" / "mcp_server.py"), "--http", "0"], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        first = proc.stderr.readline().decode()
    finally:
        stop(proc)
    assert first.strip() == f"Spaces OS MCP server: config: {Path(env['AGENTIC_CONFIG']).resolve()} (from " \
                            f"$AGENTIC_CONFIG); database: {env['SPACES_OS_DB']}"

    project = tmp_path / "project"
    project.mkdir()
    (project / "agentic-config.yaml").write_text("demo: {}\n")
    found = server_paths({}, root=project)
    assert (found.config, found.db) == ((project / "agentic-config.yaml").resolve(), project / "data" / "spaces_os.db")
    assert server_paths({}, root=tmp_path / "empty").config is None


def test_a_port_in_use_or_an_invalid_port_is_one_clear_line_without_a_url_or_a_traceback(elsewhere):
    cwd, env = elsewhere
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run([sys.executable, str(ROOT / "core" / "app" / "mcp_server.py"), "--http", str(port)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=60)
    assert busy.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in busy.stderr
    assert "http://" not in busy.stderr and "Traceback" not in busy.stderr

    for bad in ("70000", "-1", "eighty"):
        invalid = subprocess.run([sys.executable, str(ROOT / "core" / "app" / "mcp_server.py"), "--http", bad], cwd=cwd, env=env,
                                 capture_output=True, text=True, timeout=60)
        assert invalid.returncode == 2 and "Traceback" not in invalid.stderr, invalid.stderr
        assert "is not a port number; use one from 1 to 65535" in invalid.stderr


def test_the_readmes_claude_desktop_config_starts_our_server(elsewhere, tmp_path):
    cwd, env = elsewhere
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("Claude Desktop (`claude_desktop_config.json`)"):]
    config = json.loads(block[block.index("```json") + 7:block.index("```", block.index("```json") + 7)])
    entry = config["mcpServers"]["spaces-os"]
    entry["args"] = [a.replace("/path/to/spaces-os", str(ROOT)) for a in entry["args"]]
    entry["env"] = {k: env[k] for k in ("AGENTIC_CONFIG", "SPACES_OS_DB", "HF_ENDPOINT", "HF_HOME")}  # test's own
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(config))

    listed = inspector("--config", str(path), "--server", "spaces-os", "--method", "tools/list", cwd=cwd, env=env)
    assert "route_chat" in {t["name"] for t in listed["tools"]}
